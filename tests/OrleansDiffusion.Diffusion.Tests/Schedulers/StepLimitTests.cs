using OrleansDiffusion.Abstractions;
using OrleansDiffusion.Diffusion.Engine;
using OrleansDiffusion.Diffusion.Schedulers;

namespace OrleansDiffusion.Diffusion.Tests.Schedulers;

/// <summary>Leading spacing with steps_offset 1 would visit training timestep 1000 of 0..999 at 1000 steps: the job is
/// refused up front, naming --steps, instead of failing mid-run.</summary>
public class StepLimitTests
{
    [Fact]
    public void Leading_spacing_refuses_steps_that_pass_the_training_schedule_and_names_steps()
    {
        var limit = TimestepSpacing.MaxLeadingSteps(1000, 1);
        Assert.Equal(999, limit);
        var ok = JobComponents.CreateScheduler(new JobSpec { Steps = limit });
        Assert.Equal(limit, ok.Steps);
        var error = Assert.Throws<InvalidJobException>(() => JobComponents.CreateScheduler(new JobSpec { Steps = limit + 1 }));
        var field = Assert.Single(error.Errors);
        Assert.Equal("steps", field.Field);
        Assert.Contains($"at most {limit}", field.Message);
    }
}
