namespace OrleansDiffusion.Grains;

/// <summary>The devices of an accelerator silo.</summary>
public sealed class AcceleratorOptions
{
    /// <summary>"cpu", "cuda:0", "cuda:1", …; a CPU counts as an accelerator on machines without a GPU.</summary>
    public IList<string> Devices { get; } = ["cpu"];

    /// <summary>Most tiles per forward pass (bounds device memory).</summary>
    public int MaxBatch { get; set; } = 16;

    /// <summary>How long a device waits for the rest of a job's tiles to ask for the same step before it runs the batch
    /// it has (a slow tile never holds the others for long).</summary>
    public TimeSpan BatchGatherWindow { get; set; } = TimeSpan.FromMilliseconds(200);

    /// <summary>Keep Stable Diffusion weights in fp16 on GPU devices (halves their memory; CPUs stay fp32).</summary>
    public bool HalfPrecision { get; set; }

    /// <summary>Bytes of loaded models each device keeps; least recently used models without a job go beyond it.</summary>
    public long ModelCacheBytes { get; set; } = 16L << 30;

    /// <summary>Bytes of VAE decode activations each device keeps live between GroupNorms; decode tiles beyond it are parked
    /// and replay from their latent crop (same pixels, more compute). 0: automatic (<see cref="DecodeMemoryBytesOf"/>).</summary>
    public long DecodeMemoryBytes { get; set; }

    /// <summary>The decode budget of <paramref name="device"/>: <see cref="DecodeMemoryBytes"/>, or when 0, an eighth of the
    /// memory this process may use (the cgroup limit in a container, else the machine's) on the CPU and 4 GiB on a GPU:
    /// an eighth, because the allocator keeps freed activations mapped (peak RSS measured about twice the live decode
    /// activations) and several silos may share one machine.</summary>
    public long DecodeMemoryBytesOf(string device) =>
        DecodeMemoryBytes > 0 ? DecodeMemoryBytes
        : device == "cpu" ? GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / 8
        : Diffusion.StableDiffusion.TiledVaeDecoder.DefaultMemoryBudget;

    /// <summary>&gt; 0: every tile uses a simulated denoiser costing this many ms per window (benchmark silos only).</summary>
    public double BenchmarkTileMilliseconds { get; set; }
}
