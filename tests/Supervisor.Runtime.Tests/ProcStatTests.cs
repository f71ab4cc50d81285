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
}
