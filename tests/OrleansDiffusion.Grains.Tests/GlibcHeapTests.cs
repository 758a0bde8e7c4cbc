using Microsoft.Extensions.Options;
using OrleansDiffusion.Hosting;

namespace OrleansDiffusion.Grains.Tests;

public class GlibcHeapTests
{
    [Fact]
    public void The_threshold_is_set_through_mallopt_and_out_of_range_values_are_refused_at_start()
    {
        Assert.Equal("256 KiB", GlibcHeap.Configure(256 << 10)); // this test process runs on glibc
        Assert.Equal("glibc's dynamic default", GlibcHeap.Configure(0));
        Assert.Equal(256 << 10, new DiffusionSiloOptions().MallocMmapThreshold);

        foreach (var bad in new[] { -1, (32 << 20) + 1 })
        {
            var error = Assert.Throws<OptionsValidationException>(() => DiffusionSiloOptionsValidator.EnsureValid(new DiffusionSiloOptions { MallocMmapThreshold = bad }));
            Assert.Contains("MallocMmapThreshold", error.Message);
        }
        DiffusionSiloOptionsValidator.EnsureValid(new DiffusionSiloOptions { MallocMmapThreshold = 32 << 20 });
    }
}
