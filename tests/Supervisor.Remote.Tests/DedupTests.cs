using Supervisor.Remote.Gateway;

namespace Supervisor.Remote.Tests;

public sealed class DedupTests
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly byte[] A = [1];
    private static readonly byte[] B = [2];

    [Fact]
    public void A_retry_while_running_waits_and_after_completion_gets_the_stored_reply()
    {
        var d = new RequestDeduplicator<string, string>(10, TimeSpan.FromMinutes(1));
        Assert.Equal(DedupOutcome.New, d.Begin("k", A, "first", T0, out _));
        Assert.Equal(DedupOutcome.InFlight, d.Begin("k", A, "retry", T0.AddSeconds(1), out _));
        Assert.Equal(["first", "retry"], d.Complete("k", "reply-1"));
        Assert.Equal(DedupOutcome.Replay, d.Begin("k", A, "late", T0.AddSeconds(2), out var stored));
        Assert.Equal("reply-1", stored);
    }

    [Fact]
    public void The_same_id_for_another_command_is_a_conflict()
    {
        var d = new RequestDeduplicator<string, string>(10, TimeSpan.FromMinutes(1));
        d.Begin("k", A, "w", T0, out _);
        d.Complete("k", "r");
        Assert.Equal(DedupOutcome.Conflict, d.Begin("k", B, "w", T0, out _));
    }

    [Fact]
    public void Ids_are_forgotten_after_the_window_and_beyond_the_capacity()
    {
        var d = new RequestDeduplicator<string, string>(2, TimeSpan.FromMinutes(1));
        d.Begin("a", A, "w", T0, out _);
        d.Complete("a", "ra");
        d.Begin("b", A, "w", T0, out _);
        d.Complete("b", "rb");
        d.Begin("c", A, "w", T0, out _);
        d.Complete("c", "rc");
        Assert.Equal(2, d.Count);
        Assert.Equal(DedupOutcome.New, d.Begin("a", A, "w", T0, out _));

        var w = new RequestDeduplicator<string, string>(10, TimeSpan.FromMinutes(1));
        w.Begin("x", A, "w", T0, out _);
        w.Complete("x", "rx");
        Assert.Equal(DedupOutcome.Replay, w.Begin("x", A, "w", T0.AddSeconds(59), out _));
        Assert.Equal(DedupOutcome.New, w.Begin("x", A, "w", T0.AddMinutes(3), out _));
    }

    [Fact]
    public void In_flight_requests_are_never_evicted_by_capacity()
    {
        var d = new RequestDeduplicator<string, string>(1, TimeSpan.FromMinutes(1));
        d.Begin("a", A, "w", T0, out _);
        d.Begin("b", A, "w", T0, out _);
        Assert.Equal(DedupOutcome.InFlight, d.Begin("a", A, "again", T0, out _));
        Assert.Equal(["w", "again"], d.Complete("a", "ra"));
    }
}
