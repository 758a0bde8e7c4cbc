namespace OrleansDiffusion.Diffusion;

/// <summary>
/// The compute thread count of this process (libtorch's intra-op threads, and the coordinator's attention band sync's),
/// set once by one rule everywhere (in-process jobs, silos, the embedded cluster): the configured count, else the CPU
/// quota (.NET's processor count honours cgroup limits in a pod). It never depends on how many silos or devices share the process, so the numbers a tile computes do not
/// either; more threads than the quota make competing processes slow each other down many times over.
/// </summary>
public static class TorchThreads
{
    private static readonly Lock Gate = new();

    /// <summary>The count in effect after the first <see cref="Configure"/>, or 0 before.</summary>
    public static int Current { get; private set; }

    /// <summary>The count to compute with: <see cref="Current"/>, or the CPU quota before any <see cref="Configure"/>.</summary>
    public static int Effective => Current > 0 ? Current : Environment.ProcessorCount;

    /// <param name="requested">threads; 0 for the CPU quota.</param>
    /// <returns>the count in effect.</returns>
    public static int Configure(int requested = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(requested);
        var threads = requested > 0 ? requested : Environment.ProcessorCount;
        lock (Gate)
        {
            if (Current != threads)
            {
                TorchSharp.torch.set_num_threads(threads);
                Current = threads;
            }
            return Current;
        }
    }
}
