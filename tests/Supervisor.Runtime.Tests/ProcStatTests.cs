namespace Supervisor.Runtime.Tests;

public sealed class ProcStatTests
{
    [Fact]
    public void Fields_are_counted_from_the_last_parenthesis()
    {
        var line = "1234 (we ird) name)) S 1 1234 1234 0 -1 4194560 100 0 0 0 5 3 0 0 20 0 1 0 987654 1000 200";
        Assert.True(ProcStat.TryParse(line, out var state, out var start));
        Assert.Equal('S', state);
        Assert.Equal(987654ul, start);
    }

    [Fact]
    public void Our_own_process_is_alive_and_a_wrong_start_time_is_not()
    {
        Assert.True(ProcStat.TryRead(Environment.ProcessId, out _, out var start));
        Assert.True(ProcStat.IsAlive(Environment.ProcessId, start));
        Assert.False(ProcStat.IsAlive(Environment.ProcessId, start + 1));
        Assert.False(ProcStat.IsAlive(int.MaxValue, start));
    }

    [Fact]
    public void Waiting_for_a_live_process_ends_at_the_timeout_and_says_it_is_still_there()
    {
        Assert.True(ProcStat.TryRead(Environment.ProcessId, out _, out var start));
        Assert.False(ProcStat.WaitExited(Environment.ProcessId, start, TimeSpan.FromMilliseconds(20)));
    }

    [Fact]
    public void A_reused_pid_or_a_missing_process_counts_as_exited()
    {
        Assert.True(ProcStat.TryRead(Environment.ProcessId, out _, out var start));
        Assert.True(ProcStat.WaitExited(Environment.ProcessId, start + 1, TimeSpan.FromSeconds(30)));
        Assert.True(ProcStat.WaitExited(int.MaxValue, start, TimeSpan.FromSeconds(30)));
    }

    [Fact]
    public void The_wait_returns_when_the_process_exits()
    {
        using var sleeper = System.Diagnostics.Process.Start("/bin/sleep", "0.3");
        Assert.True(ProcStat.TryRead(sleeper.Id, out _, out var start));
        Assert.True(ProcStat.WaitExited(sleeper.Id, start, TimeSpan.FromSeconds(30)));
        Assert.False(ProcStat.IsAlive(sleeper.Id, start));
    }
}
