using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace OrleansDiffusion.Hosting;

/// <summary>
/// Loopback ports for the silos, Redis servers and HTTP endpoints that one machine's embedded clusters, bench clusters
/// and tests start. "Bind port 0, close it, pass the number on" raced twice in CI: the kernel hands out the same
/// ephemeral range to outgoing connections, so a client's connection could take the port before the child process bound
/// it; and parallel processes could be handed the same number. So ports come from below the ephemeral range, and each
/// is claimed by a locked file that the kernel releases when the claiming process ends (kill -9 included).
/// </summary>
public static class LoopbackPorts
{
    /// <summary>Below this, ports are commonly taken by well-known services.</summary>
    private const int Lowest = 10000;

    private static readonly string ClaimFolder = Directory.CreateDirectory(Path.Combine(Path.GetTempPath(), "odiff-ports")).FullName;

    private static readonly (int First, int Last) Candidates = Range();

    /// <summary>Open with an exclusive lock for this process's lifetime; never closed, so never handed out twice.</summary>
    private static readonly ConcurrentBag<FileStream> Claims = [];

    /// <summary>A loopback port that nobody listens on now, that the kernel will not give to an outgoing connection, and
    /// that no other process using this class has been handed while it runs.</summary>
    public static int Next()
    {
        var (first, last) = Candidates;
        var count = last - first + 1;
        var start = Random.Shared.Next(count);
        for (var i = 0; i < count; i++)
        {
            var port = first + (start + i) % count;
            if (!IsFree(port) || !TryClaim(port)) continue;
            if (IsFree(port)) return port; // still free once claimed: a claim taken just as its owner bound it is skipped
        }
        throw new InvalidOperationException($"no free loopback port in {first}..{last}");
    }

    /// <summary>The ports under the kernel's ephemeral range (Linux: net.ipv4.ip_local_port_range), or, where that cannot
    /// be read, the IANA dynamic range's lower half.</summary>
    private static (int First, int Last) Range()
    {
        const string path = "/proc/sys/net/ipv4/ip_local_port_range";
        if (File.Exists(path)
            && int.TryParse(File.ReadAllText(path).Split((char[])['\t', ' ', '\n'], StringSplitOptions.RemoveEmptyEntries)[0],
                NumberStyles.None, CultureInfo.InvariantCulture, out var ephemeralStart)
            && ephemeralStart - 1 - Lowest >= 1000)
            return (Lowest, ephemeralStart - 1);
        return (49152, 57343);
    }

    private static bool TryClaim(int port)
    {
        try
        {
            // FileShare.None takes an exclusive advisory lock (flock on Unix), held until the stream or the process ends.
            Claims.Add(new FileStream(Path.Combine(ClaimFolder, port.ToString(CultureInfo.InvariantCulture)), FileMode.OpenOrCreate,
                FileAccess.ReadWrite, FileShare.None));
            return true;
        }
        catch (IOException)
        {
            return false; // another process holds it
        }
        catch (UnauthorizedAccessException)
        {
            return false; // another user's claim file
        }
    }

    private static bool IsFree(int port)
    {
        try
        {
            using var listener = new TcpListener(IPAddress.Loopback, port);
            listener.Start();
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}
