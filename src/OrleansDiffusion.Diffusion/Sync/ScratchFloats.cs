using System.Buffers;

namespace OrleansDiffusion.Diffusion.Sync;

/// <summary>
/// Scratch arrays of the sync kernels. Up to 16 Mi floats (64 MB) they come from the shared pool, so a canvas of
/// ordinary size reuses its per-step buffers instead of faulting fresh pages in every step; larger ones (an 8192²
/// canvas's band buffers, hundreds of MB each) are allocated per step and left to the GC: pooled, they stayed alive
/// between steps, rounded up to powers of two, and the coordinator kept gigabytes it no longer used.
/// </summary>
internal static class ScratchFloats
{
    private const int PooledLimit = 1 << 24;

    /// <summary>At least <paramref name="length"/> floats, not cleared.</summary>
    public static float[] Rent(int length) =>
        length <= PooledLimit ? ArrayPool<float>.Shared.Rent(length) : GC.AllocateUninitializedArray<float>(length);

    /// <summary>Hands back what <see cref="Rent"/> gave (pooled sizes go back to the pool, the others to the GC).</summary>
    public static void Return(float[] buffer)
    {
        if (buffer.Length <= PooledLimit) ArrayPool<float>.Shared.Return(buffer);
    }
}
