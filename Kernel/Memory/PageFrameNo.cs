namespace ExoFS.Kernel.Memory;

/// <summary>The physical name of a 4 KiB page frame: its index in the kernel's frame pool.</summary>
public readonly record struct PageFrameNo(int Value) : IComparable<PageFrameNo>
{
    public int CompareTo(PageFrameNo other) => Value.CompareTo(other.Value);
    public override string ToString() => $"pf{Value}";
}
