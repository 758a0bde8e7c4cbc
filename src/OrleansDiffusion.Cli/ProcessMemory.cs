using System.Globalization;

namespace OrleansDiffusion.Cli;

/// <summary>A process's memory as Linux reports it in <c>/proc/PID/status</c>, in bytes.</summary>
/// <param name="Rss">VmRSS: resident now.</param>
/// <param name="HighWaterMark">VmHWM: the most that was ever resident (the kernel's peak RSS).</param>
/// <param name="RssAnonymous">RssAnon: resident anonymous memory (heaps, tensors), without mapped files.</param>
internal sealed record ProcessMemory(long Rss, long HighWaterMark, long RssAnonymous)
{
    /// <summary>The process's memory, or null when it has exited (or this is not Linux).</summary>
    public static ProcessMemory? Read(int pid)
    {
        string[] lines;
        try
        {
            lines = File.ReadAllLines($"/proc/{pid}/status");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
        long Field(string name) => lines.FirstOrDefault(l => l.StartsWith(name + ":", StringComparison.Ordinal)) is { } line
            ? Kilobytes(line[(name.Length + 1)..])
            : 0;
        return new ProcessMemory(Field("VmRSS"), Field("VmHWM"), Field("RssAnon"));
    }

    /// <summary>The "Private_Dirty" and "Anonymous" totals of <c>/proc/PID/smaps_rollup</c> (what the process itself
    /// wrote, against what it maps from files), or null when unreadable.</summary>
    public static (long PrivateDirty, long Anonymous)? ReadRollup(int pid)
    {
        try
        {
            var lines = File.ReadAllLines($"/proc/{pid}/smaps_rollup");
            long Field(string name) => lines.Where(l => l.StartsWith(name + ":", StringComparison.Ordinal)).Sum(l => Kilobytes(l[(name.Length + 1)..]));
            return (Field("Private_Dirty"), Field("Anonymous"));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>Resets this process's VmHWM to its current RSS (Linux: "5" into clear_refs), so that a later
    /// <see cref="Read"/> reports the peak of what ran in between; does nothing where that is not possible.</summary>
    public static void ResetPeak()
    {
        try
        {
            File.WriteAllText("/proc/self/clear_refs", "5");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
    }

    /// <summary>"  123456 kB" → bytes.</summary>
    private static long Kilobytes(string text)
    {
        var digits = text.Trim().Split(' ', StringSplitOptions.RemoveEmptyEntries).FirstOrDefault() ?? "";
        return long.TryParse(digits, NumberStyles.Integer, CultureInfo.InvariantCulture, out var kb) ? kb * 1024 : 0;
    }
}

/// <summary>Samples the resident memory of a set of processes every <c>period</c> in the background and keeps each one's
/// largest VmRSS, as a cross-check of the kernel's VmHWM (read once more at the end, before the processes are killed).</summary>
internal sealed class ProcessMemorySampler : IAsyncDisposable
{
    private readonly Func<IReadOnlyList<int>> _pids;
    private readonly Dictionary<int, ProcessMemory> _last = [];
    private readonly Dictionary<int, long> _maxRss = [];
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;

    /// <param name="pids">the processes to watch, asked again at every sample (processes may be added).</param>
    public ProcessMemorySampler(Func<IReadOnlyList<int>> pids, TimeSpan period)
    {
        _pids = pids;
        _loop = Task.Run(async () =>
        {
            using var timer = new PeriodicTimer(period);
            try
            {
                do Sample();
                while (await timer.WaitForNextTickAsync(_stop.Token));
            }
            catch (OperationCanceledException)
            {
            }
        });
    }

    /// <summary>Reads every process now; returns what each one's peak was: the larger of its VmHWM and the largest VmRSS
    /// sampled (null for a process that was never readable).</summary>
    public IReadOnlyDictionary<int, (ProcessMemory Last, long MaxSampledRss)> Sample()
    {
        lock (_last)
        {
            foreach (var pid in _pids())
            {
                if (ProcessMemory.Read(pid) is not { } memory) continue;
                _last[pid] = memory;
                _maxRss[pid] = Math.Max(_maxRss.GetValueOrDefault(pid), memory.Rss);
            }
            return _last.ToDictionary(e => e.Key, e => (e.Value, _maxRss[e.Key]));
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _loop;
        _stop.Dispose();
    }
}
