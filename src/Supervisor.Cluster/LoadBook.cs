namespace Supervisor.Cluster;

/// <summary>
/// The placement decider's ledger: every node's last load report plus the placements it sent there that the
/// report cannot show yet. A report is a snapshot taken on the node; a placement chosen a moment ago is
/// still in flight (the workload entity has not asked the node yet, or the container is being created), so a
/// decider that only trusted reports would pile a burst onto the node that looked emptiest.
/// <para>
/// A chosen node gets a reservation. Each node counts the placements it has finished
/// (<see cref="NodeLoad.CompletedPlacements"/>, monotonic while the node lives) and reports only finished ones
/// as running, so a report showing k more finished placements than the previous one retires the node's k
/// oldest reservations: those placements are now inside its running count (or failed and never will be).
/// Reservations are fungible, so retiring the oldest rather than the exact one changes no count. A
/// reservation whose placement never reached the node (the entity died, or the node never answered) would
/// count forever, so each also expires after <see cref="ReservationLifetime"/>.
/// </para>
/// The effective load of a node, the one placement ranks, is its reported running count plus its live
/// reservations. Pure and single-threaded (the agent owns it), with time passed in, so it is tested
/// without an ActorSystem or a clock.
/// </summary>
public sealed class LoadBook(TimeSpan reservationLifetime)
{
    private sealed class Entry(NodeLoad load)
    {
        public NodeLoad Load = load;
        /// <summary>Expiry times of the live reservations, oldest first (they are made in time order).</summary>
        public readonly Queue<TimeSpan> Reservations = new();
    }

    private readonly SortedDictionary<string, Entry> _nodes = new(StringComparer.Ordinal);

    public TimeSpan ReservationLifetime { get; } = reservationLifetime > TimeSpan.Zero
        ? reservationLifetime
        : throw new ArgumentOutOfRangeException(nameof(reservationLifetime), "a reservation lifetime must be positive");

    /// <summary>The addresses with a report, in ordinal order.</summary>
    public IReadOnlyCollection<string> Nodes => _nodes.Keys;

    /// <summary>
    /// Records a node's report and retires as many of its reservations as it shows newly finished placements.
    /// A count lower than the last one means a new incarnation of the node at the same address (its counter
    /// started again from zero): what was reserved there went to the old one, so those reservations go.
    /// </summary>
    public void Report(NodeLoad load)
    {
        if (!_nodes.TryGetValue(load.Address, out var entry))
        {
            // The first report is the baseline: the finished placements before it are all in its running count,
            // and no reservation can exist yet since a node is chosen only once it has reported.
            _nodes[load.Address] = new Entry(load);
            return;
        }
        var finished = load.CompletedPlacements - entry.Load.CompletedPlacements;
        if (finished < 0)
            entry.Reservations.Clear();
        for (long i = 0; i < finished && entry.Reservations.Count > 0; i++)
            entry.Reservations.Dequeue();
        entry.Load = load;
    }

    /// <summary>Forgets a node that left or became unreachable, with its reservations; its next report starts afresh.</summary>
    public bool Remove(string address) => _nodes.Remove(address);

    /// <summary>Counts a placement sent to <paramref name="address"/> until the node reports it finished, or until it expires.</summary>
    public void Reserve(string address, TimeSpan now)
    {
        if (_nodes.TryGetValue(address, out var entry))
            entry.Reservations.Enqueue(now + ReservationLifetime);
    }

    /// <summary>The live reservations of a node at <paramref name="now"/> (expired ones are dropped).</summary>
    public int Reserved(string address, TimeSpan now)
    {
        if (!_nodes.TryGetValue(address, out var entry))
            return 0;
        Expire(entry, now);
        return entry.Reservations.Count;
    }

    /// <summary>The node's last report as it came, or null.</summary>
    public NodeLoad? Reported(string address) => _nodes.TryGetValue(address, out var e) ? e.Load : null;

    /// <summary>Every node's effective load (reported running plus live reservations), in address order.</summary>
    public IReadOnlyList<NodeLoad> Effective(TimeSpan now)
    {
        var result = new List<NodeLoad>(_nodes.Count);
        foreach (var entry in _nodes.Values)
        {
            Expire(entry, now);
            result.Add(entry.Reservations.Count == 0
                ? entry.Load
                : entry.Load with { RunningContainers = entry.Load.RunningContainers + entry.Reservations.Count });
        }
        return result;
    }

    /// <summary>
    /// Chooses by <see cref="Placement"/>'s rules among the nodes <paramref name="usable"/> accepts, on their
    /// effective loads, and reserves the chosen node at once so that the next choice already counts it.
    /// </summary>
    public (NodeLoad? Node, string Reason) Choose(PlacementConstraints constraints, IReadOnlyCollection<string>? exclude, Func<string, bool> usable, TimeSpan now)
    {
        var candidates = Effective(now).Where(l => usable(l.Address)).ToList();
        var (node, reason) = Placement.Choose(candidates, constraints, exclude);
        if (node is not null)
            Reserve(node.Address, now);
        return (node, reason);
    }

    private static void Expire(Entry entry, TimeSpan now)
    {
        while (entry.Reservations.Count > 0 && entry.Reservations.Peek() <= now)
            entry.Reservations.Dequeue();
    }
}

/// <summary>
/// A node's own side of the bookkeeping, shared by the agent (which reports) and the placement tasks (which
/// run off the actor's thread). A container counts as running in the node's report only once its placement
/// has finished and the finished count says so; while it is being placed it is left out, since the decider
/// already holds a reservation for it. Reading the count before the in-flight ids, and ending a placement
/// by leaving the in-flight set before bumping the count, keeps a report from counting a placement both as
/// finished and as still reserved: at worst (a report taken between the two steps) it counts one container
/// once too often, for one load-interval.
/// </summary>
public sealed class PlacementTracker
{
    private readonly Dictionary<string, int> _inFlight = new(StringComparer.Ordinal);
    private long _completed;

    /// <summary>Placements this node has finished, successfully or not, since the daemon started.</summary>
    public long Completed => Interlocked.Read(ref _completed);

    public void Begin(string id)
    {
        lock (_inFlight)
            _inFlight[id] = _inFlight.GetValueOrDefault(id) + 1;
    }

    public void End(string id)
    {
        lock (_inFlight)
        {
            if (_inFlight.TryGetValue(id, out var n))
            {
                if (n <= 1)
                    _inFlight.Remove(id);
                else
                    _inFlight[id] = n - 1;
            }
        }
        Interlocked.Increment(ref _completed);
    }

    /// <summary>The finished count, then the ids being placed right now, in that order (see the class comment).</summary>
    public (long Completed, IReadOnlySet<string> InFlight) Snapshot()
    {
        var completed = Completed;
        lock (_inFlight)
            return (completed, new HashSet<string>(_inFlight.Keys, StringComparer.Ordinal));
    }

    /// <summary>Runs a placement between <see cref="Begin"/> and <see cref="End"/>, whatever its outcome.</summary>
    public async Task<T> Track<T>(string id, Func<Task<T>> placement)
    {
        Begin(id);
        try
        {
            return await placement().ConfigureAwait(false);
        }
        finally
        {
            End(id);
        }
    }
}
