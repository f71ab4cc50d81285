namespace Supervisor.Remote.Gateway;

/// <summary>What the deduplicator says about a request as it arrives.</summary>
public enum DedupOutcome
{
    /// <summary>Never seen (or forgotten): execute it.</summary>
    New,

    /// <summary>The same request is still executing: wait for its reply.</summary>
    InFlight,

    /// <summary>Already answered: send the stored reply again, do not execute.</summary>
    Replay,

    /// <summary>The id was used for a different command: refuse.</summary>
    Conflict,
}

/// <summary>
/// Remembers recent request ids so that a retried command (after a timeout, a reconnection, a client restart)
/// is never executed twice: the retry gets the first execution's reply. Bounded twice: at most
/// <c>capacity</c> ids (the least recently used go first) and only for <c>window</c>. The window must be at
/// least the authenticator's freshness window, so that a request old enough to be forgotten is also too old
/// to be accepted again. Keys include the client's certificate thumbprint, so one client cannot collide with
/// (or probe) another's ids. Not thread-safe: the gateway actor owns it.
/// </summary>
public sealed class RequestDeduplicator<TReply, TWaiter>
    where TReply : class
{
    private sealed class Entry(string key, byte[] digest, DateTimeOffset seen)
    {
        public string Key { get; } = key;
        public byte[] Digest { get; } = digest;
        public DateTimeOffset Seen { get; } = seen;
        public TReply? Reply { get; set; }
        public List<TWaiter> Waiters { get; } = [];
    }

    private readonly int _capacity;
    private readonly TimeSpan _window;
    private readonly Dictionary<string, LinkedListNode<Entry>> _index = new(StringComparer.Ordinal);
    private readonly LinkedList<Entry> _lru = new();

    public RequestDeduplicator(int capacity, TimeSpan window)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        _capacity = capacity;
        _window = window;
    }

    public int Count => _index.Count;

    /// <summary>
    /// Registers the arrival of <paramref name="key"/> whose command hashes to <paramref name="digest"/>.
    /// For <see cref="DedupOutcome.InFlight"/> the waiter is queued for <see cref="Complete"/>; for
    /// <see cref="DedupOutcome.Replay"/> <paramref name="reply"/> is the stored reply.
    /// </summary>
    public DedupOutcome Begin(string key, byte[] digest, TWaiter waiter, DateTimeOffset now, out TReply? reply)
    {
        Expire(now);
        reply = null;
        if (_index.TryGetValue(key, out var node))
        {
            var e = node.Value;
            if (!e.Digest.AsSpan().SequenceEqual(digest))
                return DedupOutcome.Conflict;
            _lru.Remove(node);
            _lru.AddFirst(node);
            if (e.Reply is not null)
            {
                reply = e.Reply;
                return DedupOutcome.Replay;
            }
            e.Waiters.Add(waiter);
            return DedupOutcome.InFlight;
        }
        var entry = new Entry(key, digest, now);
        entry.Waiters.Add(waiter);
        _index[key] = _lru.AddFirst(entry);
        while (_index.Count > _capacity && Evict())
        {
        }
        return DedupOutcome.New;
    }

    /// <summary>Stores the reply of <paramref name="key"/> and returns everyone waiting for it (the first sender included).</summary>
    public IReadOnlyList<TWaiter> Complete(string key, TReply reply)
    {
        if (!_index.TryGetValue(key, out var node))
            return [];
        var e = node.Value;
        e.Reply = reply;
        var waiters = e.Waiters.ToList();
        e.Waiters.Clear();
        return waiters;
    }

    private void Expire(DateTimeOffset now)
    {
        // Entries are ordered by use, not by arrival, so scan from the least recently used end and stop at
        // the first one young enough; an older one further in will go on a later call or by capacity.
        while (_lru.Last is { } last && now - last.Value.Seen > _window && last.Value.Waiters.Count == 0)
        {
            _index.Remove(last.Value.Key);
            _lru.RemoveLast();
        }
    }

    private bool Evict()
    {
        // In-flight entries are kept (their waiters need the reply); the oldest completed one goes.
        for (var node = _lru.Last; node is not null; node = node.Previous)
        {
            if (node.Value.Reply is null)
                continue;
            _index.Remove(node.Value.Key);
            _lru.Remove(node);
            return true;
        }
        return false;
    }
}
