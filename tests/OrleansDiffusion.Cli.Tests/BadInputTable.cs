using System.Net;
using System.Net.Sockets;
using OrleansDiffusion.Abstractions;
using OrleansDiffusion.Diffusion.Imaging;

namespace OrleansDiffusion.Cli.Tests;

/// <summary>Bad inputs on every verb, as a new user types them, against the real <c>odiff</c> process and real files.
/// Each must fail before any work (cluster verbs: before connecting) with the promised exit code and one printable
/// line on stderr that names the option; stdout stays empty and an existing file at --out stays byte-identical.</summary>
public sealed class BadInputTable
{
    // Placeholders, replaced per run: {dir} a fresh folder, {out} an existing PNG-named file that must survive,
    // {file} a plain file, {folder} a folder named like a PNG, {full} a non-empty folder, {empty} an empty folder,
    // {fifo} a named pipe, {huge} a sparse file over the exemplar cap, {truncated} a PNG cut short, {garbage} not a PNG,
    // {port} a closed loopback port (nothing listens there, so a verb that tried to connect would fail differently).
    private static readonly string[] Small = ["--width", "64", "--height", "64", "--tile", "32", "--overlap", "8", "--steps", "2"];
    private static readonly string[] Nowhere = ["--gateway", "127.0.0.1:{port}"];

    public static TheoryData<string, string[], int, string> Cases()
    {
        var cases = new TheoryData<string, string[], int, string>();
        void Generate(string name, string expected, params string[] args) =>
            cases.Add(name, ["generate", .. Unless(args, [.. Small, "--out", "{out}"]), .. args], 2, expected);
        void Submit(string name, string expected, params string[] args) => cases.Add(name, ["submit", .. Unless(args, [.. Small, .. Nowhere]), .. args], 2, expected);
        void Verb(string name, int exitCode, string expected, params string[] args) => cases.Add(name, args, exitCode, expected);

        Generate("steps not a number", "--steps: expected an integer, got 'abc'", "--steps", "abc");
        Generate("width not a number", "--width: expected an integer, got 'wide'", "--width", "wide");
        Generate("seed not an integer", "--seed: expected an integer, got '1.5'", "--seed", "1.5");
        Generate("cfg not a number", "--cfg: expected a number, got 'high'", "--cfg", "high");
        Generate("unknown sync mode", "--sync: expected one of none, average, gaussian, attention, halo, got 'blend'", "--sync", "blend");
        Generate("unknown scheduler", "--scheduler: expected one of ddim, euler, got 'pndm'", "--scheduler", "pndm");
        Generate("value after a switch", "--tileable: is a switch and takes no value, got 'maybe'", "--tileable", "maybe");
        Generate("unknown option", "'--colour'", "--colour", "red");
        Generate("width not a multiple of 8", "--width: must be a multiple of 8", "--width", "100");
        Generate("zero steps", $"--steps: must be between 1 and {JobSpecValidator.MaxSteps}", "--steps", "0");
        Generate("tile larger than the canvas", "--tile: must be at most the canvas's larger side (64), got 128", "--tile", "128");
        Generate("tile too small", "--tile: must be a multiple of 8 and at least 32", "--tile", "20");
        Generate("overlap as large as the tile", "--overlap: must be smaller than the tile size", "--overlap", "32");
        Generate("eta out of range", "--eta: must be between 0 and 1", "--eta", "2");
        Generate("karras without euler", "--karras: only applies to --scheduler euler", "--karras");
        Generate("no silos", "--silos: must be between 1 and", "--silos", "0");
        Generate("odd bit depth", "--bit-depth: must be 8 or 16", "--bit-depth", "12");
        Generate("prompt too long", "--prompt: must be at most 4096 characters", "--prompt", new string('a', 5000));
        Generate("output not a png", "--out: must be a path ending in .png, got 'image.jpg'", "--out", "image.jpg");
        Generate("output is a folder", "--out: '{folder}' is a directory", "--out", "{folder}");
        Generate("output inside a file", "--out: '{file}/x.png' is inside a file ('{file}' is not a folder)", "--out", "{file}/x.png");
        Generate("output under /proc", "--out: '/proc/odiff.png' is under /proc", "--out", "/proc/odiff.png");
        Generate("output under /sys", "--out: '/sys/odiff.png' is under /sys", "--out", "/sys/odiff.png");
        Generate("exemplar missing", "--exemplar: file '{dir}/missing.png' does not exist", "--exemplar", "{dir}/missing.png");
        Generate("exemplar not a png", "--exemplar: ", "--exemplar", "{garbage}");
        Generate("exemplar truncated png", "--exemplar: ", "--exemplar", "{truncated}");
        Generate("exemplar is a fifo", "--exemplar: '{fifo}' is not a regular file", "--exemplar", "{fifo}");
        Generate("exemplar is a device", "--exemplar: '/dev/zero' is not a regular file", "--exemplar", "/dev/zero");
        Generate("exemplar too big", $"bytes; at most {ExemplarImage.MaxBytes} are allowed", "--exemplar", "{huge}");
        Generate("exemplar is a folder", "--exemplar: '{dir}' is a folder", "--exemplar", "{dir}");
        Generate("model folder missing", "--model: '{dir}/nope' is not a folder", "--model", "{dir}/nope");
        Generate("model is a file", "--model: '{file}' is not a folder", "--model", "{file}");
        Generate("model folder empty", "--model: ", "--model", "{empty}");

        Submit("submit exemplar missing", "--exemplar: file '{dir}/missing.png' does not exist", "--exemplar", "{dir}/missing.png");
        Submit("submit model is a path", "--model: '/etc' is not a model name", "--model", "/etc");
        Submit("submit model climbs out", "--model: '../x' is not a model name", "--model", "../x");
        Submit("submit bad width", "--width: must be a multiple of 8", "--width", "100");
        Submit("submit steps not a number", "--steps: expected an integer, got 'abc'", "--steps", "abc");
        Submit("submit tile larger than the canvas", "--tile: must be at most the canvas's larger side", "--tile", "128");
        Submit("submit job id with a slash", "--job-id: ", "--job-id", "a/b");
        Submit("submit connect timeout zero", "--connect-timeout: must be between 1 and 3600", "--connect-timeout", "0");
        Verb("submit without a cluster address", 2, "--redis: give --redis CONNECTION or --gateway HOST:PORT", ["submit", .. Small]);
        Verb("submit with both addresses", 2, "--redis: give --redis or --gateway, not both", ["submit", .. Small, "--redis", "127.0.0.1:1", "--gateway", "127.0.0.1:1"]);
        Verb("submit gateway without port", 2, "--gateway: must be host:port", ["submit", .. Small, "--gateway", "nohost"]);

        Verb("watch job id climbs out", 2, "JOB: ", ["watch", "../x", .. Nowhere]);
        Verb("watch timeout not a number", 2, "--connect-timeout: expected an integer, got 'soon'", ["watch", "j1", .. Nowhere, "--connect-timeout", "soon"]);
        Verb("cancel job id with a space", 2, "JOB: ", ["cancel", "a b", .. Nowhere]);
        Verb("cancel value after a switch", 2, "--wait: is a switch and takes no value, got 'yes'", ["cancel", "j1", "--wait", "yes", .. Nowhere]);
        Verb("fetch output inside a file", 2, "--out: '{file}/x.png' is inside a file", ["fetch", "j1", "--out", "{file}/x.png", .. Nowhere]);
        Verb("fetch output is a folder", 2, "--out: '{folder}' is a directory", ["fetch", "j1", "--out", "{folder}", .. Nowhere]);
        Verb("fetch output not a png", 2, "--out: must be a path ending in .png, got 'result.txt'", ["fetch", "j1", "--out", "result.txt", .. Nowhere]);
        Verb("fetch output under /proc", 2, "--out: '/proc/j1.png' is under /proc", ["fetch", "j1", "--out", "/proc/j1.png", .. Nowhere]);
        Verb("jobs max zero", 2, "--max: must be between 1 and 10000", ["jobs", "--max", "0", .. Nowhere]);
        Verb("jobs max not a number", 2, "--max: expected an integer, got 'x'", ["jobs", "--max", "x", .. Nowhere]);

        Verb("model init into a file", 2, "--out: '{file}' is a file", ["model", "init", "--out", "{file}"]);
        Verb("model init into a full folder", 2, "--out: '{full}' exists and is not empty", ["model", "init", "--out", "{full}"]);
        Verb("model init inside a file", 2, "--out: '{file}/m' is inside a file", ["model", "init", "--out", "{file}/m"]);
        Verb("model init under /proc", 2, "--out: '/proc/odiff-model' is under /proc", ["model", "init", "--out", "/proc/odiff-model"]);
        Verb("model init unknown preset", 2, "--preset: must be tiny", ["model", "init", "--preset", "huge", "--out", "{dir}/m"]);
        Verb("model init seed not a number", 2, "--seed: expected an integer, got 'x'", ["model", "init", "--seed", "x", "--out", "{dir}/m"]);
        Verb("model init without out", 2, "'--out'", ["model", "init"]);
        Verb("model inspect missing folder", 2, "FOLDER: ", ["model", "inspect", "{dir}/nope"]);
        Verb("model inspect a file", 2, "FOLDER: ", ["model", "inspect", "{file}"]);

        Verb("cluster unreachable", 1, "via gateway 127.0.0.1:{port}: ", ["jobs", .. Nowhere, "--connect-timeout", "2"]);
        return cases;
    }

    /// <summary>The option/value pairs of <paramref name="defaults"/> that <paramref name="args"/> does not set itself.</summary>
    private static string[] Unless(string[] args, string[] defaults) =>
        defaults.Chunk(2).Where(pair => !args.Contains(pair[0])).SelectMany(pair => pair).ToArray();

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task Fails_early_with_one_line_naming_the_option(string name, string[] args, int exitCode, string expected)
    {
        using var files = new Fixtures();
        var result = await OdiffProcess.RunAsync(files.Directory.Path, args.Select(files.Expand).ToArray());

        Assert.True(result.ExitCode == exitCode, $"{name}: exit {result.ExitCode}\n{result.Stderr}");
        var line = Assert.Single(result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("error: ", line);
        Assert.Contains(files.Expand(expected), line);
        Assert.DoesNotContain("   at ", result.Stderr);
        Assert.DoesNotContain("Exception", result.Stderr);
        Assert.DoesNotContain("System.", result.Stderr);
        Assert.True(line.All(c => !char.IsControl(c)), $"control characters in: {line}");
        Assert.Equal("", result.Stdout);
        files.AssertUntouched();
    }

    /// <summary>The files the cases point at, in a fresh folder, and a check that none of them changed.</summary>
    private sealed class Fixtures : IDisposable
    {
        private static readonly byte[] Existing = [0x89, (byte)'P', (byte)'N', (byte)'G', 1, 2, 3, 4, 5];
        private readonly string[] _before;
        private readonly int _port = ClosedPort();

        public Fixtures()
        {
            var d = Directory.Path;
            File.WriteAllBytes(Path.Combine(d, "existing.png"), Existing);
            File.WriteAllText(Path.Combine(d, "plain.txt"), "a plain file");
            File.WriteAllText(Path.Combine(d, "garbage.png"), "not a png");
            var truncated = Path.Combine(d, "truncated.png");
            using (var pixels = TorchSharp.torch.zeros(3, 8, 8))
                PngWriter.Write(truncated, pixels, PngBitDepth.Eight, "");
            var valid = File.ReadAllBytes(truncated);
            File.WriteAllBytes(truncated, [.. valid[..^16], .. new byte[12]]); // chunk names become NUL bytes
            System.IO.Directory.CreateDirectory(Path.Combine(d, "folder.png"));
            System.IO.Directory.CreateDirectory(Path.Combine(d, "empty"));
            System.IO.Directory.CreateDirectory(Path.Combine(d, "full"));
            File.WriteAllText(Path.Combine(d, "full", "keep.txt"), "x");
            using (var huge = File.Create(Path.Combine(d, "huge.png")))
                huge.SetLength(ExemplarImage.MaxBytes + 1L); // sparse: costs no disk
            using (var mkfifo = System.Diagnostics.Process.Start("mkfifo", Path.Combine(d, "pipe.png")))
                mkfifo.WaitForExit();
            _before = Snapshot();
        }

        public TempDirectory Directory { get; } = new();

        public string Expand(string text)
        {
            var d = Directory.Path;
            return text.Replace("{dir}", d).Replace("{out}", Path.Combine(d, "existing.png")).Replace("{file}", Path.Combine(d, "plain.txt"))
                .Replace("{folder}", Path.Combine(d, "folder.png")).Replace("{full}", Path.Combine(d, "full")).Replace("{empty}", Path.Combine(d, "empty"))
                .Replace("{fifo}", Path.Combine(d, "pipe.png")).Replace("{huge}", Path.Combine(d, "huge.png"))
                .Replace("{truncated}", Path.Combine(d, "truncated.png")).Replace("{garbage}", Path.Combine(d, "garbage.png"))
                .Replace("{port}", _port.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }

        public void AssertUntouched()
        {
            Assert.Equal(_before, Snapshot());
            Assert.Equal(Existing, File.ReadAllBytes(Path.Combine(Directory.Path, "existing.png")));
        }

        public void Dispose() => Directory.Dispose();

        private string[] Snapshot() =>
            Directory.Files().Select(f => $"{f} {(File.Exists(f) && new FileInfo(f).Length < 1 << 20 && !f.EndsWith("pipe.png", StringComparison.Ordinal) ? Convert.ToHexString(File.ReadAllBytes(f)) : "")}").Order().ToArray();

        private static int ClosedPort()
        {
            using var listener = new TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            return ((IPEndPoint)listener.LocalEndpoint).Port; // closed again when disposed
        }
    }
}
