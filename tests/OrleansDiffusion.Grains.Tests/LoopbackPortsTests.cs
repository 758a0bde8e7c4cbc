using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using OrleansDiffusion.Hosting;

namespace OrleansDiffusion.Grains.Tests;

/// <summary>The ports handed to silos, Redis and HTTP endpoints: out of the kernel's ephemeral range (outgoing
/// connections cannot take them), never handed out twice, and claimed against other processes.</summary>
public class LoopbackPortsTests
{
    private const string EphemeralRange = "/proc/sys/net/ipv4/ip_local_port_range";

    [Fact]
    public void Ports_are_distinct_bindable_and_below_the_ephemeral_range()
    {
        var ephemeralStart = int.Parse(File.ReadAllText(EphemeralRange).Split((char[])['\t', ' '])[0]);
        var ports = Enumerable.Range(0, 200).Select(_ => LoopbackPorts.Next()).ToList();

        Assert.Equal(ports.Count, ports.Distinct().Count());
        Assert.All(ports, port => Assert.InRange(port, 1024, ephemeralStart - 1));
        foreach (var port in ports.Take(20))
        {
            using var listener = new TcpListener(IPAddress.Loopback, port);
            listener.Start(); // throws if anything listens there
        }
    }

    [Fact]
    public async Task A_handed_out_port_stays_locked_against_other_processes()
    {
        var port = LoopbackPorts.Next();
        var claim = Path.Combine(Path.GetTempPath(), "odiff-ports", port.ToString());

        // flock(1) from util-linux takes the same advisory lock; -n fails at once (exit 75 here) when it is held.
        using var flock = Process.Start(new ProcessStartInfo("flock", ["-n", "-E", "75", claim, "true"]) { UseShellExecute = false })!;
        await flock.WaitForExitAsync();
        Assert.Equal(75, flock.ExitCode);
    }
}
