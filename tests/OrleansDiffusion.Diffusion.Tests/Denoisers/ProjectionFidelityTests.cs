using Xunit.Abstractions;
using OrleansDiffusion.Abstractions;
using OrleansDiffusion.Diffusion.Denoisers;
using OrleansDiffusion.Diffusion.Engine;
using OrleansDiffusion.Diffusion.Imaging;

namespace OrleansDiffusion.Diffusion.Tests.Denoisers;

/// <summary>How close the fast (16-dimensional projection) machine stays to the exact formula over a whole run.</summary>
public class ProjectionFidelityTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Projected_run_stays_close_to_the_exact_run()
    {
        var exemplar = ExemplarCatalog.FromPrompt("wood", JobComponents.ExemplarSize).Image;
        using var fast = new ExemplarDenoiser(exemplar, new ExemplarDenoiserOptions { PatchCount = 256 });
        using var exact = new ExemplarDenoiser(exemplar, new ExemplarDenoiserOptions { PatchCount = 256, ProjectionDims = null });
        var spec = TestJobs.Spec(128, 128, 0, SyncMode.Halo, steps: 20);
        using var a = await LocalGeneration.RunAsync(spec, fast);
        using var b = await LocalGeneration.RunAsync(spec, exact);
        var difference = (a.Canvas - b.Canvas).abs();
        var meanLevels = difference.mean().item<float>() * 127.5;
        var within4 = difference.le(4 / 127.5).to(TorchSharp.torch.ScalarType.Float32).mean().item<float>();
        output.WriteLine($"mean |Δ| = {meanLevels:F2} 8-bit levels; {within4:P1} of samples within 4 levels");
        Assert.True(meanLevels < 3, $"mean difference {meanLevels:F2} levels");
        Assert.True(within4 > 0.85, $"only {within4:P1} within 4 levels");
    }
}
