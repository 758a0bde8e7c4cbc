namespace OrleansDiffusion.Diffusion.StableDiffusion;

/// <summary>
/// Bounds the activations that the <see cref="VaeDecodeSession"/>s sharing one memory (a process, or a device of a
/// worker silo) keep between GroupNorms. Each session reports here after every stage (<see cref="Fit"/>); the ledger
/// holds what every session holds at that moment, including the previous stage of sessions that have not advanced
/// yet, and a session that would take the total past <see cref="Bytes"/> is parked (it replays from its latent crop
/// at the next norm). Parking never changes a session's pixels, only its cost. Thread-safe.
/// </summary>
public sealed class DecodeMemoryBudget
{
    private readonly Dictionary<VaeDecodeSession, long> _held = new(ReferenceEqualityComparer.Instance);
    private readonly Lock _lock = new();
    private long _live;
    private long _parks;

    /// <param name="bytes">activations kept live across all sessions; 0 parks every session after every stage.</param>
    public DecodeMemoryBudget(long bytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(bytes);
        Bytes = bytes;
    }

    public long Bytes { get; }

    /// <summary>Bytes the sessions hold now (<see cref="VaeDecodeSession.LiveBytes"/> as last reported).</summary>
    public long LiveBytes
    {
        get
        {
            lock (_lock) return _live;
        }
    }

    /// <summary>Sessions parked so far (each park costs a replay at the next norm).</summary>
    public long Parks => Interlocked.Read(ref _parks);

    /// <summary>Call after <paramref name="session"/> was created or advanced: keeps its activations if they fit beside
    /// everything else held, otherwise parks it. Returns whether it was parked.</summary>
    public bool Fit(VaeDecodeSession session)
    {
        ArgumentNullException.ThrowIfNull(session);
        lock (_lock)
        {
            _held.TryGetValue(session, out var before);
            var parked = !session.IsComplete && _live - before + session.LiveBytes > Bytes;
            if (parked)
            {
                session.Park();
                Interlocked.Increment(ref _parks);
            }
            _live += session.LiveBytes - before;
            _held[session] = session.LiveBytes;
            return parked;
        }
    }

    /// <summary>Forgets <paramref name="session"/> (call before disposing it).</summary>
    public void Release(VaeDecodeSession session)
    {
        ArgumentNullException.ThrowIfNull(session);
        lock (_lock)
        {
            if (_held.Remove(session, out var bytes)) _live -= bytes;
        }
    }
}
