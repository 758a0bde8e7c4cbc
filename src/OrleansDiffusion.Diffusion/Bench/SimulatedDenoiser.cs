using OrleansDiffusion.Diffusion.Denoisers;
using OrleansDiffusion.Diffusion.Schedulers;
using static TorchSharp.torch;

namespace OrleansDiffusion.Diffusion.Bench;

/// <summary>
/// A fixed-cost stand-in for a real model, for the capacity-planning benchmark only (<c>odiff bench scaling</c>): each
/// window of a batch costs <see cref="TileMilliseconds"/> of sleep on the device thread, so silo processes on a small
/// machine do not compete for its cores, and predicts ε̂ = 0. A silo uses it only when started with
/// <c>OrleansDiffusion__BenchmarkTileMilliseconds</c> &gt; 0; jobs cannot ask for it.
/// </summary>
/// <param name="halo">the context the coordinator planned for the job (so tile and coordinator plans agree).</param>
public sealed class SimulatedDenoiser(int channels, int halo, double tileMilliseconds) : IDenoiser
{
    public int Channels { get; } = channels;
    public PredictionType Prediction => PredictionType.Epsilon;
    public double TileMilliseconds { get; } = tileMilliseconds;
    public int MaxHalo { get; } = halo;

    public int Halo(DenoiseContext context) => MaxHalo;

    public Tensor Predict(Tensor input, int halo, DenoiseContext context)
    {
        var batch = input.shape[0];
        Thread.Sleep(TimeSpan.FromMilliseconds(TileMilliseconds * batch));
        return zeros(batch, input.shape[1], input.shape[2] - 2 * halo, input.shape[3] - 2 * halo);
    }

    public void Dispose()
    {
    }
}
