namespace OrleansDiffusion.Client;

/// <summary>Thrown when the cluster knows no job with the given id.</summary>
public sealed class JobNotFoundException : Exception
{
    /// <summary>Creates the exception for <paramref name="jobId"/>.</summary>
    public JobNotFoundException(string jobId)
        : base($"No job '{jobId}' on this cluster.") => JobId = jobId;

    /// <summary>Creates the exception without a job id.</summary>
    public JobNotFoundException()
        : this("")
    {
    }

    /// <summary>Creates the exception with a message of its own.</summary>
    public JobNotFoundException(string message, Exception inner)
        : base(message, inner) => JobId = "";

    /// <summary>The id that was looked up.</summary>
    public string JobId { get; }
}
