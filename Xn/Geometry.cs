namespace ExoFS.Xn;

/// <summary>Where XN's structures lie on the volume and its superblock state, for <c>exofs info</c>.</summary>
public sealed record XnGeometry(ulong BlockCount, int BlockSize, ulong FreeMapStart, ulong FreeMapBlocks,
                                ulong CatalogueStart, ulong CatalogueSlotBlocks, ulong FirstDataBlock,
                                bool WasClean, ulong MountCount, ulong CatalogueGeneration);
