namespace OrleansDiffusion.Abstractions;

/// <summary>The cluster's job queue is full: the job was not accepted (nothing was recorded); try again after
/// <see cref="RetryAfter"/>.</summary>
[GenerateSerializer, Alias("odiff.ClusterBusyException")]
public sealed class ClusterBusyException : Exception
{
    public ClusterBusyException(int queued, int capacity, TimeSpan retryAfter)
        : base($"the cluster's job queue is full ({queued} of {capacity} jobs queued or running); retry in {retryAfter.TotalSeconds:0} s")
    {
        Queued = queued;
        Capacity = capacity;
        RetryAfter = retryAfter;
    }

    public ClusterBusyException()
        : this(0, 0, TimeSpan.FromSeconds(5))
    {
    }

    public ClusterBusyException(string message)
        : base(message)
    {
    }

    public ClusterBusyException(string message, Exception inner)
        : base(message, inner)
    {
    }

    [Id(0)] public int Queued { get; private set; }
    [Id(1)] public int Capacity { get; private set; }
    [Id(2)] public TimeSpan RetryAfter { get; private set; }
}
