using Supervisor.Runtime.Spawn;

namespace Supervisor.Runtime.Tests.Spawn;

public sealed class RequestBuilderTests
{
    [Fact]
    public void The_last_duplicate_wins_and_keeps_its_first_position()
    {
        var env = RequestBuilder.BuildEnv(["A=1", "B=2", "A=3"], "/root");
        Assert.Equal(["A=3", "B=2", "HOME=/root"], env);
    }

    [Fact]
    public void Home_is_only_added_when_absent()
    {
        Assert.Equal(["HOME=/custom"], RequestBuilder.BuildEnv(["HOME=/custom"], "/home/user1"));
        Assert.Equal(["X=1", "HOME=/"], RequestBuilder.BuildEnv(["X=1"], ""));
    }
}
