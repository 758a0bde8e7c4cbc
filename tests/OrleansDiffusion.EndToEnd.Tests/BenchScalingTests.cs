using System.Text.Json;

namespace OrleansDiffusion.EndToEnd.Tests;

/// <summary><c>odiff bench scaling</c> for real: it starts its own redis-server, coordinator and worker silos (a short run).</summary>
public class BenchScalingTests
{
    [Fact]
    public async Task Bench_scaling_prints_one_result_per_worker_count_as_json()
    {
        var folder = Directory.CreateTempSubdirectory("odiff-bench-test-").FullName;
        try
        {
            using var odiff = await ChildProcess.RunOdiffAsync(folder, TimeSpan.FromMinutes(5),
                ["bench", "scaling", "--workers", "1,2", "--tiles", "4", "--tile-ms", "5", "--steps", "4", "--json"]);
            Assert.True(odiff.ExitCode == 0, odiff.Tail());
            var last = odiff.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries)[^1];
            using var json = JsonDocument.Parse(last);
            var results = json.RootElement.GetProperty("results").EnumerateArray().ToArray();
            Assert.Equal([1, 2], results.Select(r => r.GetProperty("workers").GetInt32()));
            foreach (var result in results)
            {
                // Figures only: on a shared machine a loaded 1-worker run can make 2 workers look more than twice as fast.
                Assert.True(double.IsFinite(result.GetProperty("step_seconds").GetDouble()) && result.GetProperty("step_seconds").GetDouble() > 0);
                Assert.InRange(result.GetProperty("coordinator_share").GetDouble(), 0, 1);
                var efficiency = result.GetProperty("efficiency").GetDouble();
                Assert.True(double.IsFinite(efficiency) && efficiency > 0, $"efficiency {efficiency}");
            }
            Assert.Equal(1.0, results[0].GetProperty("efficiency").GetDouble());
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
