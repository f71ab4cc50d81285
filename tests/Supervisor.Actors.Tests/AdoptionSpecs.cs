using Akka.Actor;
using Supervisor.Actors.Restart;
using Supervisor.Runtime;
using Xunit.Abstractions;

namespace Supervisor.Actors.Tests;

/// <summary>ReleaseContainer and AdoptContainer, which a live migration uses around the CRIU dump and restore.</summary>
public class AdoptionSpecs(ITestOutputHelper output) : SupervisorSpecBase(output)
{
    private static readonly RestartPolicy Always = new(RestartMode.Always, 0, BackoffSettings.Docker, 0, TimeSpan.FromSeconds(60));

    /// <summary>A supervisor past its start-up scan, so that containers seeded afterwards are not found by it.</summary>
    private async Task<IActorRef> Started()
    {
        var sup = StartSupervisor(Settings());
        await sup.Ask<ContainerList>(ListContainers.Instance, TimeSpan.FromSeconds(5));
        return sup;
    }

    [Fact]
    public async Task A_released_container_keeps_running_and_its_exit_is_no_longer_handled()
    {
        var sup = await Started();
        Runtime.Seed("mig", ContainerStatus.Running);
        Assert.IsType<CommandSucceeded>(await sup.Ask<object>(new AdoptContainer("mig", Always)));
        await NextEvent<ContainerAdopted>(e => e.Id == "mig");

        Assert.IsType<CommandSucceeded>(await sup.Ask<object>(new ReleaseContainer("mig")));
        Assert.Empty((await sup.Ask<ContainerList>(ListContainers.Instance)).Ids);
        Assert.Equal(ContainerStatus.Running, Runtime.Get("mig")!.Status);
        Assert.Equal(0, Runtime.Count("delete"));
        Assert.Empty(Runtime.Signals);

        // The dump ends the init: nobody restarts it, since it is no longer supervised here.
        Runtime.Exit("mig", 137, 9);
        await Events.ExpectNoMsgAsync(TimeSpan.FromMilliseconds(300));
        Assert.Equal(0, Runtime.Count("run"));
    }

    [Fact]
    public async Task An_adopted_container_gets_an_actor_and_its_restart_policy()
    {
        var sup = await Started();
        Runtime.Seed("restored", ContainerStatus.Running);
        Assert.IsType<CommandSucceeded>(await sup.Ask<object>(new AdoptContainer("restored", Always)));
        await NextEvent<ContainerAdopted>(e => e.Id == "restored");
        var info = await State(sup, "restored");
        Assert.Equal(ContainerStatus.Running, info.Status);
        Assert.Equal("always", info.Restart);
        Assert.Equal("always", Store.Read("restored")!.Policy);

        Runtime.Exit("restored", 1);
        await NextEvent<ContainerRestarting>(e => e.Id == "restored");
    }

    [Fact]
    public async Task Adopting_an_unknown_or_supervised_container_fails_with_a_reason()
    {
        var sup = await Started();
        var missing = Assert.IsType<CommandFailed>(await sup.Ask<object>(new AdoptContainer("ghost", Always)));
        Assert.Equal("container ghost does not exist", missing.Error);
        Runtime.Seed("twice", ContainerStatus.Running);
        Assert.IsType<CommandSucceeded>(await sup.Ask<object>(new AdoptContainer("twice", Always)));
        var again = Assert.IsType<CommandFailed>(await sup.Ask<object>(new AdoptContainer("twice", Always)));
        Assert.Equal("container twice is already supervised", again.Error);
    }
}
