using System.CommandLine;
using System.Runtime.InteropServices;
using OrleansDiffusion.Abstractions;
using OrleansDiffusion.Client;
using OrleansDiffusion.Diffusion.Imaging;

namespace OrleansDiffusion.Cli;

/// <summary>The verbs that talk to a running cluster: <c>submit</c>, <c>watch</c>, <c>cancel</c>, <c>fetch</c>, <c>jobs</c>.
/// Exit codes: 0 success (a watched job completed), 2 invalid input, 1 anything else (unknown job, no cluster,
/// a job that failed or was cancelled).</summary>
internal static class ClusterCommands
{
    public static IEnumerable<Command> Create() => [Submit(), Watch(), Cancel(), Fetch(), Jobs(), Models()];

    private static Command Submit()
    {
        var job = new JobOptions(ModelReference.ClusterName);
        var connection = new ClusterConnectionOptions();
        var jobId = new Option<string?>("--job-id") { Description = "Job id to use (default: a new sortable id such as 20250101-120000-k3x9q2)." };
        var wait = new Option<bool>("--wait") { Description = "Watch the job to its end (progress on stderr, final status on stdout); exit 0 only if it completed." };
        var json = new Option<bool>("--json") { Description = "Print a JSON object as the last line on stdout (with --wait: the final status)." };
        var command = new Command("submit", "Submit a job to a running cluster and print its id.");
        job.AddTo(command);
        connection.AddTo(command);
        foreach (var option in new Option[] { jobId, wait, json }) command.Options.Add(option);
        command.SetAction(async (parsed, cancellation) =>
        {
            var spec = job.ToSpec(parsed);
            var id = parsed.GetValue(jobId);
            var errors = JobSpecValidator.ValidateForCluster(spec).ToList();
            if (id is not null && DiffusionClient.CheckJobId(id) is { } problem) errors.Add(new ValidationError("job-id", problem));
            var options = Collect(errors, () => connection.ToClientOptions(parsed));
            if (errors.Count > 0) throw new InvalidJobException(errors);

            return await WithClusterAsync(parsed, options!, connection.Timeout(parsed), async (client, stop) =>
            {
                id = await client.SubmitAsync(spec, id, stop);
                if (!parsed.GetValue(wait))
                {
                    Console.Out.WriteLine(parsed.GetValue(json) ? $"{{\"job_id\":\"{id}\"}}" : id);
                    return ExitCodes.Success;
                }
                Console.Out.WriteLine(id);
                return await WatchToEndAsync(client, id, parsed.GetValue(json), stop);
            }, cancellation);
        });
        return command;
    }

    private static Command Watch()
    {
        var connection = new ClusterConnectionOptions();
        var job = JobArgument();
        var json = new Option<bool>("--json") { Description = "Print the final status as a JSON object on the last line of stdout." };
        var command = new Command("watch", "Follow a job's progress (stderr) to its end; exit 0 only if it completed.");
        command.Arguments.Add(job);
        connection.AddTo(command);
        command.Options.Add(json);
        command.SetAction(async (parsed, cancellation) =>
        {
            var (id, options) = Parse(parsed, job, connection);
            return await WithClusterAsync(parsed, options, connection.Timeout(parsed),
                (client, stop) => WatchToEndAsync(client, id, parsed.GetValue(json), stop), cancellation);
        });
        return command;
    }

    private static Command Cancel()
    {
        var connection = new ClusterConnectionOptions();
        var job = JobArgument();
        var wait = new Option<bool>("--wait") { Description = "Wait until the job has stopped and print its final state." };
        var command = new Command("cancel", "Cancel a job: it stops after its current step and its tiles free their device memory.");
        command.Arguments.Add(job);
        connection.AddTo(command);
        command.Options.Add(wait);
        command.SetAction(async (parsed, cancellation) =>
        {
            var (id, options) = Parse(parsed, job, connection);
            return await WithClusterAsync(parsed, options, connection.Timeout(parsed), async (client, stop) =>
            {
                var before = await client.GetStatusAsync(id, stop) ?? throw new JobNotFoundException(id);
                if (before.IsFinished)
                {
                    Console.Out.WriteLine($"{id} already {JobStatusOutput.State(before)}; nothing to cancel");
                    return ExitCodes.Success;
                }
                await client.CancelAsync(id, stop);
                if (!parsed.GetValue(wait))
                {
                    Console.Out.WriteLine($"cancel requested for {id}");
                    return ExitCodes.Success;
                }
                JobStatus? last = null;
                await foreach (var status in client.WatchAsync(id, stop)) last = status;
                Console.Out.WriteLine(JobStatusOutput.Summary(last!));
                return ExitCodes.Success;
            }, cancellation);
        });
        return command;
    }

    private static Command Fetch()
    {
        var connection = new ClusterConnectionOptions();
        var job = JobArgument();
        var output = new Option<string?>("--out") { Description = "Where to write the PNG (default: JOB.png); written to a temporary file first, then moved." };
        var command = new Command("fetch", "Download a completed job's PNG.");
        command.Arguments.Add(job);
        connection.AddTo(command);
        command.Options.Add(output);
        command.SetAction(async (parsed, cancellation) =>
        {
            var id = parsed.GetValue(job) ?? "";
            var path = parsed.GetValue(output) ?? $"{id}.png";
            var options = Parse(parsed, job, connection, OutputPath.CheckFile("out", path, ".png"));

            return await WithClusterAsync(parsed, options, connection.Timeout(parsed), async (client, stop) =>
            {
                var status = await client.GetStatusAsync(id, stop) ?? throw new JobNotFoundException(id);
                var written = await WriteAtomicallyAsync(path, client, status, stop);
                Console.Out.WriteLine($"wrote {path} ({written} bytes)");
                return ExitCodes.Success;
            }, cancellation);
        });
        return command;
    }

    private static Command Jobs()
    {
        var connection = new ClusterConnectionOptions();
        var max = CliOption.Int("--max", "Most jobs to list.", 100);
        var json = new Option<bool>("--json") { Description = "Print the jobs as one JSON array on stdout." };
        var command = new Command("jobs", "List the cluster's jobs.");
        connection.AddTo(command);
        command.Options.Add(max);
        command.Options.Add(json);
        command.SetAction(async (parsed, cancellation) =>
        {
            var errors = new List<ValidationError>();
            var options = Collect(errors, () => connection.ToClientOptions(parsed));
            var count = parsed.GetValue(max);
            if (count is < 1 or > 10000) errors.Add(new ValidationError("max", $"must be between 1 and 10000, got {count}"));
            if (errors.Count > 0) throw new InvalidJobException(errors);

            return await WithClusterAsync(parsed, options!, connection.Timeout(parsed), async (client, stop) =>
            {
                var jobs = await client.ListJobsAsync(parsed.GetValue(max), stop);
                Console.Out.WriteLine(parsed.GetValue(json) ? JobStatusOutput.ToJson(jobs) : JobStatusOutput.Table(jobs));
                return ExitCodes.Success;
            }, cancellation);
        });
        return command;
    }

    private static Command Models()
    {
        var connection = new ClusterConnectionOptions();
        var json = new Option<bool>("--json") { Description = "Print the models as one JSON array on stdout." };
        var command = new Command("models", "List the models in the cluster's model store (name, family, parameters, dtypes, silos).");
        connection.AddTo(command);
        command.Options.Add(json);
        command.SetAction(async (parsed, cancellation) =>
        {
            var errors = new List<ValidationError>();
            var options = Collect(errors, () => connection.ToClientOptions(parsed));
            if (errors.Count > 0) throw new InvalidJobException(errors);
            return await WithClusterAsync(parsed, options!, connection.Timeout(parsed), async (client, stop) =>
            {
                var models = await client.ListModelsAsync(stop);
                Console.Out.WriteLine(parsed.GetValue(json) ? ModelListOutput.ToJson(models) : ModelListOutput.Table(models));
                return ExitCodes.Success;
            }, cancellation);
        });
        return command;
    }

    private static Argument<string> JobArgument() => new("JOB") { Description = "The job id (as printed by odiff submit)." };

    private static (string JobId, DiffusionClientOptions Options) Parse(ParseResult parsed, Argument<string> job, ClusterConnectionOptions connection) =>
        (parsed.GetValue(job) ?? "", Parse(parsed, job, connection, null));

    /// <summary>The connection options, after checking the job id, the connection and <paramref name="other"/> (all reported together).</summary>
    private static DiffusionClientOptions Parse(ParseResult parsed, Argument<string> job, ClusterConnectionOptions connection, ValidationError? other)
    {
        var errors = new List<ValidationError>();
        if (DiffusionClient.CheckJobId(parsed.GetValue(job) ?? "") is { } problem) errors.Add(new ValidationError(job.Name, problem));
        var options = Collect(errors, () => connection.ToClientOptions(parsed));
        if (other is not null) errors.Add(other);
        if (errors.Count > 0) throw new InvalidJobException(errors);
        return options!;
    }

    private static T? Collect<T>(List<ValidationError> errors, Func<T> parse)
        where T : class
    {
        try
        {
            return parse();
        }
        catch (InvalidJobException e)
        {
            errors.AddRange(e.Errors);
            return null;
        }
    }

    private static async Task<int> WatchToEndAsync(DiffusionClient client, string jobId, bool json, CancellationToken cancellation)
    {
        JobStatus final;
        try
        {
            final = await JobStatusOutput.WatchAsync(client, jobId, cancellation);
        }
        catch (OperationCanceledException) when (cancellation.IsCancellationRequested)
        {
            Console.Error.WriteLine($"stopped watching; job {jobId} keeps running (odiff cancel {jobId} stops it)");
            throw;
        }
        Console.Out.WriteLine(json ? JobStatusOutput.ToJson(final) : JobStatusOutput.Summary(final));
        return final.State == JobState.Completed ? ExitCodes.Success : ExitCodes.Failure;
    }

    /// <summary>Streams the result into place atomically, checking it is complete.</summary>
    private static async Task<long> WriteAtomicallyAsync(string path, DiffusionClient client, JobStatus status, CancellationToken cancellation)
    {
        await using var result = await client.OpenResultAsync(status.JobId, cancellation);
        return await AtomicFile.WriteAsync(path, result, cancellation, status.OutputBytes > 0 ? status.OutputBytes : null);
    }

    /// <summary>Connects (client logging on stderr, warnings only unless --verbose) and runs <paramref name="action"/>;
    /// failures reach the top-level handler (exit code 1, one line).</summary>
    private static async Task<int> WithClusterAsync(ParseResult parsed, DiffusionClientOptions options, TimeSpan timeout, Func<DiffusionClient, CancellationToken, Task<int>> action, CancellationToken cancellation)
    {
        // Ctrl+C (SIGINT) cancels the verb gracefully: a watched job keeps running on the cluster.
        using var interrupted = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        using var onInterrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, signal =>
        {
            signal.Cancel = true;
            interrupted.Cancel();
        });
        await using var connection = await DiffusionConnection.ConnectAsync(options, timeout,
            CliLogging.ForClient(parsed.GetValue(GlobalOptions.Verbose)), interrupted.Token);
        return await action(connection.Client, interrupted.Token);
    }
}
