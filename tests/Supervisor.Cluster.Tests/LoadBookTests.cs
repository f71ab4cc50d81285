using Supervisor.Cluster;

namespace Supervisor.Cluster.Tests;

public class LoadBookTests
{
    private const string A = "akka.tcp://supervisor@127.0.0.1:4055";
    private const string B = "akka.tcp://supervisor@127.0.0.1:4056";
    private const string C = "akka.tcp://supervisor@127.0.0.1:4057";

    private static readonly TimeSpan Lifetime = TimeSpan.FromSeconds(60);

    private static TimeSpan At(double seconds) => TimeSpan.FromSeconds(seconds);

    private static NodeLoad Load(string address, int running, long completed = 0, long free = 1L << 30, Dictionary<string, string>? labels = null) =>
        new(address, ["supervisor"], labels ?? new Dictionary<string, string>(), running, free, completed);

    private static LoadBook Book(params NodeLoad[] reports)
    {
        var book = new LoadBook(Lifetime);
        foreach (var r in reports)
            book.Report(r);
        return book;
    }

    private static string? Choose(LoadBook book, TimeSpan now, PlacementConstraints? constraints = null, IReadOnlyCollection<string>? exclude = null) =>
        book.Choose(constraints ?? PlacementConstraints.None, exclude, _ => true, now).Node?.Address;

    private static Dictionary<string, int> Running(LoadBook book, TimeSpan now) =>
        book.Effective(now).ToDictionary(l => l.Address, l => l.RunningContainers);

    [Fact]
    public void A_burst_before_any_new_report_spreads_evenly()
    {
        var book = Book(Load(A, 0), Load(B, 0), Load(C, 0));
        var chosen = Enumerable.Range(0, 9).Select(_ => Choose(book, At(0))!).ToList();
        Assert.Equal([3, 3, 3], chosen.GroupBy(a => a).OrderBy(g => g.Key, StringComparer.Ordinal).Select(g => g.Count()));
        // Equal loads and memory: the lowest address first, every round in the same order.
        Assert.Equal([A, B, C, A, B, C, A, B, C], chosen);
    }

    [Fact]
    public void A_burst_fills_the_emptier_nodes_first()
    {
        var book = Book(Load(A, 4), Load(B, 1), Load(C, 0));
        var chosen = Enumerable.Range(0, 7).Select(_ => Choose(book, At(0))!).ToList();
        Assert.Equal(new Dictionary<string, int> { [A] = 4, [B] = 4, [C] = 4 }, Running(book, At(0)));
        Assert.Equal(0, chosen.Count(a => a == A));
    }

    [Fact]
    public void A_report_that_does_not_show_the_placements_yet_leaves_the_reservations()
    {
        var book = Book(Load(A, 0), Load(B, 0));
        Choose(book, At(0));
        Choose(book, At(0));
        Choose(book, At(0));
        Assert.Equal(2, book.Reserved(A, At(0)));
        // The report the old code let overwrite its guesses: still 0 running, nothing finished.
        book.Report(Load(A, 0));
        Assert.Equal(2, book.Reserved(A, At(0.5)));
        Assert.Equal(new Dictionary<string, int> { [A] = 2, [B] = 1 }, Running(book, At(0.5)));
        Assert.Equal(B, Choose(book, At(0.5)));
    }

    [Fact]
    public void Finished_placements_retire_as_many_reservations_and_the_running_count_takes_over()
    {
        var book = Book(Load(A, 2, completed: 10));
        for (int i = 0; i < 3; i++)
            book.Reserve(A, At(i));
        book.Report(Load(A, 4, completed: 12));
        Assert.Equal(1, book.Reserved(A, At(3)));
        Assert.Equal(5, book.Effective(At(3)).Single().RunningContainers);
        // The retired ones were the oldest: the one left expires a lifetime after the last reservation.
        Assert.Equal(1, book.Reserved(A, At(2) + Lifetime - TimeSpan.FromTicks(1)));
        Assert.Equal(0, book.Reserved(A, At(2) + Lifetime));
    }

    [Fact]
    public void More_finished_placements_than_reservations_retire_them_all_and_no_more()
    {
        var book = Book(Load(A, 0, completed: 0));
        book.Reserve(A, At(0));
        // Two more were placed there by choices made elsewhere (a fallback): only ours is retired.
        book.Report(Load(A, 3, completed: 3));
        Assert.Equal(0, book.Reserved(A, At(1)));
        book.Reserve(A, At(1));
        book.Report(Load(A, 3, completed: 3));
        Assert.Equal(1, book.Reserved(A, At(1)));
        Assert.Equal(4, book.Effective(At(1)).Single().RunningContainers);
    }

    [Fact]
    public void A_placement_that_never_happens_stops_counting_when_its_reservation_expires()
    {
        var book = Book(Load(A, 0), Load(B, 0));
        Assert.Equal(A, Choose(book, At(0)));
        Assert.Equal(B, Choose(book, At(10)));
        Assert.Equal(1, book.Reserved(A, At(59)));
        Assert.Equal(new Dictionary<string, int> { [A] = 0, [B] = 1 }, Running(book, At(60)));
        Assert.Equal(A, Choose(book, At(60)));
    }

    [Fact]
    public void A_finished_count_going_back_is_a_restarted_node_and_drops_its_reservations()
    {
        var book = Book(Load(A, 5, completed: 7));
        book.Reserve(A, At(0));
        book.Reserve(A, At(0));
        book.Report(Load(A, 0, completed: 0));
        Assert.Equal(0, book.Reserved(A, At(0)));
        // Its new count is the baseline from now on.
        book.Reserve(A, At(1));
        book.Report(Load(A, 1, completed: 1));
        Assert.Equal(0, book.Reserved(A, At(1)));
    }

    [Fact]
    public void A_removed_node_is_forgotten_with_its_reservations_and_starts_afresh_with_its_next_report()
    {
        var book = Book(Load(A, 0, completed: 4), Load(B, 3));
        book.Reserve(A, At(0));
        Assert.True(book.Remove(A));
        Assert.False(book.Remove(A));
        Assert.Equal([B], book.Nodes);
        Assert.Equal(B, Choose(book, At(0)));
        // Reservations for a node the book does not know are not kept.
        book.Reserve(A, At(0));
        book.Report(Load(A, 1, completed: 9));
        Assert.Equal(0, book.Reserved(A, At(0)));
        Assert.Equal(1, book.Effective(At(0)).Single(l => l.Address == A).RunningContainers);
    }

    [Fact]
    public void Ties_are_decided_the_same_way_whatever_the_order_of_reports()
    {
        var forward = Book(Load(A, 1), Load(B, 1), Load(C, 1));
        var backward = Book(Load(C, 1), Load(B, 1), Load(A, 1));
        Assert.Equal(
            Enumerable.Range(0, 6).Select(_ => Choose(forward, At(0))),
            Enumerable.Range(0, 6).Select(_ => Choose(backward, At(0))));
        Assert.Equal([A, B, C], backward.Effective(At(0)).Select(l => l.Address));
    }

    [Fact]
    public void Free_memory_still_breaks_ties_of_effective_load()
    {
        var book = Book(Load(A, 1, free: 1L << 30), Load(B, 0, free: 8L << 30), Load(C, 0, free: 4L << 30));
        // B (0 running, most memory), then C (0 running), then all at 1 where A has the least memory...
        Assert.Equal([B, C, B, C, A], Enumerable.Range(0, 5).Select(_ => Choose(book, At(0))));
    }

    [Fact]
    public void Constraints_exclusions_and_usability_still_apply_and_no_choice_reserves_nothing()
    {
        var book = Book(Load(A, 0, labels: new() { ["zone"] = "a" }), Load(B, 0, labels: new() { ["zone"] = "b" }), Load(C, 0));
        var zoneB = new PlacementConstraints(null, new Dictionary<string, string> { ["zone"] = "b" });
        Assert.Equal(B, Choose(book, At(0), zoneB));
        Assert.Equal(B, Choose(book, At(0), zoneB));
        Assert.Equal(C, Choose(book, At(0), exclude: [A]));
        var (node, reason) = book.Choose(zoneB, null, a => a != B, At(0));
        Assert.Null(node);
        Assert.Equal("none of 2 nodes fits zone=b", reason);
        Assert.Equal(new Dictionary<string, int> { [A] = 0, [B] = 2, [C] = 1 }, Running(book, At(0)));
    }

    [Fact]
    public void An_empty_book_says_no_node_has_reported()
    {
        var (node, reason) = new LoadBook(Lifetime).Choose(PlacementConstraints.None, null, _ => true, At(0));
        Assert.Null(node);
        Assert.Equal("no node has reported its load yet", reason);
        Assert.Throws<ArgumentOutOfRangeException>(() => new LoadBook(TimeSpan.Zero));
    }
}

public class PlacementTrackerTests
{
    [Fact]
    public void A_placement_is_in_flight_until_it_ends_and_then_counted_finished()
    {
        var t = new PlacementTracker();
        t.Begin("web");
        var (completed, inFlight) = t.Snapshot();
        Assert.Equal(0, completed);
        Assert.Equal(["web"], inFlight);
        t.End("web");
        (completed, inFlight) = t.Snapshot();
        Assert.Equal(1, completed);
        Assert.Empty(inFlight);
    }

    [Fact]
    public void Two_placements_of_one_id_keep_it_in_flight_until_both_end()
    {
        var t = new PlacementTracker();
        t.Begin("web");
        t.Begin("web");
        t.End("web");
        Assert.Contains("web", t.Snapshot().InFlight);
        t.End("web");
        Assert.Empty(t.Snapshot().InFlight);
        Assert.Equal(2, t.Completed);
    }

    [Fact]
    public async Task Track_counts_successes_and_failures_alike()
    {
        var t = new PlacementTracker();
        var gate = new TaskCompletionSource<string>();
        var running = t.Track("a", () => gate.Task);
        Assert.Contains("a", t.Snapshot().InFlight);
        gate.SetResult("placed");
        Assert.Equal("placed", await running);
        await Assert.ThrowsAsync<InvalidOperationException>(() => t.Track<string>("b", () => throw new InvalidOperationException("boom")));
        var (completed, inFlight) = t.Snapshot();
        Assert.Equal(2, completed);
        Assert.Empty(inFlight);
    }
}
