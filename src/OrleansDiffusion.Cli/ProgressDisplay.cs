using OrleansDiffusion.Abstractions;
using Spectre.Console;

namespace OrleansDiffusion.Cli;

/// <summary>Progress on stderr: a live bar in a terminal, one plain line per step when stderr is redirected (logs, CI).</summary>
internal static class ProgressDisplay
{
    public static async Task<T> RunAsync<T>(JobSpec spec, Func<IProgress<StepProgress>, Task<T>> work)
    {
        if (Console.IsErrorRedirected)
            return await work(new Reporter(p => Console.Error.WriteLine(
                $"step {p.Step}/{p.Steps} · {p.Tiles} tiles · {p.ElapsedSeconds:F1} s (denoise {p.DenoiseSeconds:F1} s, sync {p.SyncSeconds:F2} s)")));

        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
        return await console.Progress()
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn())
            .StartAsync(async context =>
            {
                var task = context.AddTask($"{spec.Width}×{spec.Height} · {spec.Sync.ToString().ToLowerInvariant()}", maxValue: spec.Steps);
                return await work(new Reporter(p =>
                {
                    task.Value = p.Step;
                    task.Description = $"{spec.Width}×{spec.Height} · {p.Tiles} tiles · step {p.Step}/{p.Steps}";
                }));
            });
    }

    /// <summary>Reports on the engine's thread, in step order (unlike <see cref="Progress{T}"/>, which posts).</summary>
    private sealed class Reporter(Action<StepProgress> report) : IProgress<StepProgress>
    {
        public void Report(StepProgress value) => report(value);
    }
}
