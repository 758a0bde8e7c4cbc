using OrleansDiffusion.Diffusion.Denoisers;
using OrleansDiffusion.Diffusion.StableDiffusion;
using static TorchSharp.torch;

namespace OrleansDiffusion.Diffusion.Tests.StableDiffusion;

/// <summary>A window's prediction must not depend on which other windows share its batch (the cluster batches tiles by placement).</summary>
public sealed class DenoiserDeterminismTests(TinyModelFixture tiny) : IClassFixture<TinyModelFixture>
{
    [Theory]
    [InlineData(2, 8)]
    [InlineData(5, 6)]
    public void Each_window_of_a_batch_is_bit_identical_to_predicting_it_alone(int windows, int side)
    {
        using var denoiser = new StableDiffusionDenoiser(tiny.Model, "a photo of a cat", "blue", guidance: 7.5);
        manual_seed(21);
        using var batch = randn(windows, 4, side, side);
        var context = new DenoiseContext(0, 10, 0.5, 601);

        using var together = denoiser.Predict(batch, 0, context);
        for (var i = 0; i < windows; i++)
        {
            using var window = batch.narrow(0, i, 1).contiguous();
            using var alone = denoiser.Predict(window, 0, context);
            using var fromBatch = together.narrow(0, i, 1);
            Assert.True(fromBatch.eq(alone).all().item<bool>(), $"window {i}: max |Δ| = {TensorAssertions.MaxDifference(fromBatch, alone)}");
        }

        // and in another batch order
        using var reversed = batch.flip(0).contiguous();
        using var reversedPrediction = denoiser.Predict(reversed, 0, context);
        using var back = reversedPrediction.flip(0);
        Assert.True(back.eq(together).all().item<bool>());
    }
}
