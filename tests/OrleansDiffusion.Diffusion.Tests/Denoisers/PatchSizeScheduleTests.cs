using OrleansDiffusion.Diffusion.Denoisers;

namespace OrleansDiffusion.Diffusion.Tests.Denoisers;

public class PatchSizeScheduleTests
{
    [Theory]
    [InlineData(3)]
    [InlineData(8)]
    public void A_block_that_does_not_divide_8_is_refused(int spread)
    {
        // Canvas sides are multiples of 8: only such blocks line up across a tileable canvas's wrap.
        var error = Assert.Throws<ArgumentException>(() => new PatchSizeSchedule([new(1.0, new PatchGeometry(3, 1, Spread: spread))]));
        Assert.Contains("spreads must be 1, 2 or 4", error.Message);
    }
}
