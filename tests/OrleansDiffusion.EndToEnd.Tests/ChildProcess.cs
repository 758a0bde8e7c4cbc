using System.Diagnostics;
using System.Text;
using OrleansDiffusion.Hosting;

namespace OrleansDiffusion.EndToEnd.Tests;

/// <summary>A program started by a test: its output is kept (for assertions and failure diagnostics) and the whole
/// process tree is killed on dispose, whatever happened.</summary>
internal sealed class ChildProcess : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _stdout = new();
    private readonly StringBuilder _stderr = new();
    private readonly StringBuilder _combined = new();

    private ChildProcess(string name, Process process)
    {
        Name = name;
        _process = process;
    }

    public string Name { get; }
    public int Id => _process.Id;
    public bool HasExited => _process.HasExited;
    public int ExitCode => _process.ExitCode;

    public string Stdout
    {
        get { lock (_combined) return _stdout.ToString(); }
    }

    public string Stderr
    {
        get { lock (_combined) return _stderr.ToString(); }
    }

    public static ChildProcess Start(string name, string fileName, IEnumerable<string> arguments, IReadOnlyDictionary<string, string>? environment = null, string? workingDirectory = null)
    {
        var info = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? Environment.CurrentDirectory,
        };
        foreach (var argument in arguments) info.ArgumentList.Add(argument);
        foreach (var (key, value) in environment ?? new Dictionary<string, string>()) info.Environment[key] = value;
        var child = new ChildProcess(name, new Process { StartInfo = info });
        child._process.OutputDataReceived += (_, e) => child.Append(child._stdout, e.Data);
        child._process.ErrorDataReceived += (_, e) => child.Append(child._stderr, e.Data);
        child._process.Start();
        child._process.BeginOutputReadLine();
        child._process.BeginErrorReadLine();
        return child;
    }

    /// <summary>Runs <c>dotnet odiff.dll ARGS</c> to its end (killed after <paramref name="timeout"/>).</summary>
    public static async Task<ChildProcess> RunOdiffAsync(string workingDirectory, TimeSpan timeout, string[] arguments, IReadOnlyDictionary<string, string>? environment = null)
    {
        var child = Start("odiff " + arguments.FirstOrDefault(), "dotnet", [BuiltPrograms.Odiff, .. arguments], environment, workingDirectory);
        try
        {
            await child.WaitForExitAsync(timeout);
            return child;
        }
        catch
        {
            child.Dispose();
            throw;
        }
    }

    public async Task WaitForExitAsync(TimeSpan timeout)
    {
        using var deadline = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            Kill();
            throw new TimeoutException($"{Name} did not finish within {timeout.TotalSeconds:F0} s.{Environment.NewLine}{Tail()}");
        }
        _process.WaitForExit(); // drains the output readers
    }

    /// <summary>The last lines of both streams, for failure messages.</summary>
    public string Tail(int lines = 60)
    {
        string[] all;
        lock (_combined) all = _combined.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        return $"--- {Name} (last {Math.Min(lines, all.Length)} of {all.Length} lines) ---{Environment.NewLine}" +
            string.Join(Environment.NewLine, all.TakeLast(lines));
    }

    public void Dispose()
    {
        Kill();
        _process.Dispose();
    }

    /// <summary>SIGTERM (a graceful stop, as Kubernetes sends it) to the process; returns at once.</summary>
    public void Terminate()
    {
        if (!_process.HasExited && SendSignal(_process.Id, 15) != 0) throw new InvalidOperationException($"kill -TERM {_process.Id} failed");
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int SendSignal(int pid, int signal);

    /// <summary>SIGKILL (kill -9) to the process and its children, and wait for it to be gone.</summary>
    public void Kill()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                _process.WaitForExit(10_000);
            }
        }
        catch (InvalidOperationException)
        {
        }
    }

    private void Append(StringBuilder stream, string? line)
    {
        if (line is null) return;
        lock (_combined)
        {
            stream.AppendLine(line);
            _combined.AppendLine(line);
        }
    }
}

/// <summary>Where the programs under test were built, and free loopback ports.</summary>
internal static class BuiltPrograms
{
    public static string RepoRoot { get; } = FindRepoRoot();

    /// <summary>The configuration and framework this test assembly was built with (…/bin/Release/net10.0/).</summary>
    private static readonly string[] BuildFolder = Path.TrimEndingDirectorySeparator(AppContext.BaseDirectory).Split(Path.DirectorySeparatorChar)[^3..];

    public static string Odiff => Output("src/OrleansDiffusion.Cli", "odiff.dll");
    public static string Silo => Output("silos/OrleansDiffusion.Silo", "OrleansDiffusion.Silo.dll");

    /// <summary>A loopback port for a child process to listen on (see <see cref="LoopbackPorts"/>).</summary>
    public static int FreePort() => LoopbackPorts.Next();

    /// <summary>An executable on PATH (or the usual system folders), or null.</summary>
    public static string? FindExecutable(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Concat(["/usr/bin", "/usr/sbin", "/usr/local/bin"])
            .Select(folder => Path.Combine(folder, name))
            .FirstOrDefault(File.Exists);

    private static string Output(string project, string file)
    {
        var path = Path.Combine([RepoRoot, project, .. BuildFolder, file]);
        return File.Exists(path) ? path : throw new FileNotFoundException($"{path} is not built; build the solution first (tests/run.sh does).", path);
    }

    private static string FindRepoRoot()
    {
        for (var folder = new DirectoryInfo(AppContext.BaseDirectory); folder is not null; folder = folder.Parent)
            if (File.Exists(Path.Combine(folder.FullName, "OrleansDiffusion.sln"))) return folder.FullName;
        throw new DirectoryNotFoundException($"No OrleansDiffusion.sln above {AppContext.BaseDirectory}.");
    }
}
