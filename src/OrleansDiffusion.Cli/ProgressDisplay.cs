using Spectre.Console;

namespace OrleansDiffusion.Cli;

/// <summary>Progress on stderr for every verb: a live bar in a terminal, one plain line per report when stderr is
/// redirected (logs, CI). Work reports (step, steps, line).</summary>
internal static class ProgressDisplay
{
    public static async Task<T> RunAsync<T>(string title, Func<Action<int, int, string>, Task<T>> work)
    {
        if (Console.IsErrorRedirected)
            return await work((_, _, line) => Console.Error.WriteLine(line));

        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
        return await console.Progress()
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn())
            .StartAsync(async context =>
            {
                ProgressTask? task = null;
                return await work((step, steps, line) =>
                {
                    task ??= context.AddTask(Markup.Escape(title), maxValue: steps);
                    task.MaxValue = steps;
                    task.Value = step;
                    task.Description = Markup.Escape(line);
                });
            });
    }
}

/// <summary>Reports on the caller's thread, in order (unlike <see cref="Progress{T}"/>, which posts).</summary>
internal sealed class SynchronousProgress<T>(Action<T> report) : IProgress<T>
{
    public void Report(T value) => report(value);
}
