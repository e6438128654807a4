namespace ExoFS.Kernel.Udf;

/// <summary>
/// A verified instruction: jump targets resolved to indices, and for loads whether a run-time read-set
/// check is still needed (false when the verifier proved the load in range for every partition).
/// </summary>
internal readonly struct Insn
{
    public readonly UdfOp Op;
    public readonly byte Rd, Ra, Rb;
    public readonly bool BImm;
    public readonly bool Checked;
    public readonly byte Width;
    public readonly int Target;
    public readonly int Type;
    public readonly long Imm;

    public Insn(UdfInstruction x, int target, bool isChecked)
    {
        Op = x.Op;
        Rd = (byte)x.Rd;
        Ra = (byte)x.Ra;
        Rb = (byte)x.Rb;
        BImm = x.BIsImm;
        Imm = x.Imm;
        Type = x.TypeIndex;
        Target = target;
        Checked = isChecked;
        Width = (byte)UdfOps.Width(x.Op);
    }

    private Insn(in Insn x, bool isChecked)
    {
        this = x;
        Checked = isChecked;
    }

    public Insn Proven() => new(this, isChecked: false);
}
