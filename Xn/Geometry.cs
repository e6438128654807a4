namespace ExoFS.Xn;

/// <summary>Where XN's structures lie on the volume and its superblock state, for <c>exofs info</c>.</summary>
public sealed record XnGeometry(ulong BlockCount, int BlockSize, ulong FreeMapStart, ulong FreeMapBlocks,
                                ulong CatalogueStart, ulong CatalogueSlotBlocks, ulong FirstDataBlock,
                                bool WasClean, ulong MountCount, ulong CatalogueGeneration);

public sealed partial class XnVolume
{
    /// <summary>The volume's layout and superblock state.</summary>
    public XnGeometry Geometry
    {
        get
        {
            lock (_gate)
                return new XnGeometry(Layout.BlockCount, BlockSize, Layout.FreeMapStart, Layout.FreeMapBlocks,
                    Layout.CatalogueStart, Layout.CatalogueSlotBlocks, Layout.ReservedEnd, WasClean,
                    _super.MountCount, _catalogueGeneration);
        }
    }
}
