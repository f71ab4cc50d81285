using Akka.Actor;
using Supervisor.Actors.Restart;
using Supervisor.Actors.Runtime;
using Supervisor.Runtime;
using Xunit.Abstractions;

namespace Supervisor.Actors.Tests;

/// <summary>The reconcile tick, adoption corner cases and a restart record that cannot be written.</summary>
public class ReconcileSpecs(ITestOutputHelper output) : SupervisorSpecBase(output)
{
    private const string Web = """
        supervisor.containers = [ { id = "web", bundle = "/bundles/web", restart { policy = "on-failure", max-retries = 3 } } ]
        supervisor.reconcile-interval = 5s
        """;

    private static readonly TimeSpan Ask = TimeSpan.FromSeconds(5);

    [Fact]
    public async Task The_tick_notices_an_exit_whose_notification_was_lost()
    {
        var sup = StartSupervisor(Settings(Web));
        var started = await NextEvent<ContainerStarted>();
        // A round trip: the actor has set its timers once it answers.
        await State(sup, "web");
        Runtime.ExitQuietly("web", 2);
        await Events.ExpectNoMsgAsync(TimeSpan.FromMilliseconds(300));

        Clock.Advance(TimeSpan.FromSeconds(5));
        var exited = await NextEvent<ContainerExited>();
        Assert.Equal((started.Pid, 2), (exited.Pid, exited.ExitCode));
        Clock.Advance((await NextEvent<ContainerRestarting>()).Delay);
        Assert.Equal(1, (await NextEvent<ContainerStarted>()).RestartCount);
        Assert.Equal(2, Runtime.Count("run"));
    }

    [Fact]
    public async Task The_tick_restarts_a_configured_container_deleted_behind_its_back_and_forgets_an_unconfigured_one()
    {
        var sup = StartSupervisor(Settings(Web));
        var started = await NextEvent<ContainerStarted>();
        await sup.Ask<CommandSucceeded>(new CreateContainer("job", "/bundles/job"), Ask);
        await sup.Ask<CommandSucceeded>(new StartContainer("job"), Ask);
        await NextEvent<ContainerStarted>(e => e.Id == "job");
        await State(sup, "web");

        // `supervisor delete -f` on the same root: both are gone, and no exit watch fires.
        Runtime.RemoveQuietly("web");
        Runtime.RemoveQuietly("job");
        Clock.Advance(TimeSpan.FromSeconds(5));

        // Both are exits of unknown status (255); the configured one's on-failure runs it again.
        var exits = new[] { await NextEvent<ContainerExited>(), await NextEvent<ContainerExited>() }.ToDictionary(e => e.Id);
        Assert.Equal((started.Pid, 255), (exits["web"].Pid, exits["web"].ExitCode));
        Assert.Equal(255, exits["job"].ExitCode);
        Clock.Advance((await NextEvent<ContainerRestarting>(e => e.Id == "web")).Delay);
        await NextEvent<ContainerStarted>(e => e.Id == "web");

        // The one made through the protocol (policy no) is, on the next tick, forgotten.
        Clock.Advance(TimeSpan.FromSeconds(5));
        await NextEvent<ContainerRemoved>(e => e.Id == "job");
        Assert.Equal(["web"], (await sup.Ask<ContainerList>(ListContainers.Instance, Ask)).Ids);
        Assert.Null(Store.Read("job"));
    }

    [Fact]
    public async Task A_configured_container_left_created_by_a_dead_daemon_is_started_once_not_run_again()
    {
        var created = Runtime.Seed("web", ContainerStatus.Created, bundle: "/bundles/web");
        StartSupervisor(Settings(Web));
        var started = await NextEvent<ContainerStarted>();
        Assert.Equal(created.InitPid, started.Pid);
        Assert.Equal(1, Runtime.Count("start"));
        Assert.Equal(0, Runtime.Count("run"));
        Assert.Equal(0, Runtime.Count("delete"));
        Assert.Equal(ContainerStatus.Running, Runtime.Get("web")!.Status);
    }

    [Fact]
    public async Task Created_and_paused_containers_not_in_the_configuration_keep_their_state_on_adoption()
    {
        var created = Runtime.Seed("made", ContainerStatus.Created);
        var paused = Runtime.Seed("frozen", ContainerStatus.Paused);
        Store.Write("frozen", RestartRecord.Empty with { RestartCount = 2, Policy = "always" });
        var sup = StartSupervisor(Settings());
        Clock.Advance(TimeSpan.FromSeconds(20));

        var made = await State(sup, "made");
        var frozen = await State(sup, "frozen");
        Assert.Equal((ContainerStatus.Created, created.InitPid), (made.Status, made.Pid));
        Assert.Equal((ContainerStatus.Paused, paused.InitPid, 2, "always"), (frozen.Status, frozen.Pid, frozen.RestartCount, frozen.Restart));
        Assert.Equal(0, Runtime.Count("start") + Runtime.Count("run") + Runtime.Count("resume") + Runtime.Count("delete"));
        Assert.Empty(Runtime.Signals);
    }

    [Fact]
    public async Task A_restart_record_that_cannot_be_written_is_reported_kept_and_written_once_possible()
    {
        // A file where the record directory should be: every write fails with an I/O error.
        Directory.CreateDirectory(Root);
        File.WriteAllText(Store.Dir, "in the way");
        var sup = StartSupervisor(Settings(Web));
        var notSaved = await NextEvent<ContainerStateNotSaved>();
        Assert.Equal("web", notSaved.Id);
        var started = await NextEvent<ContainerStarted>();
        await State(sup, "web");

        // The container is supervised as usual meanwhile, and the count lives on in memory.
        Runtime.Exit("web", 1);
        Clock.Advance((await NextEvent<ContainerRestarting>()).Delay);
        var again = await NextEvent<ContainerStarted>();
        Assert.NotEqual(started.Pid, again.Pid);
        Assert.Equal(1, (await State(sup, "web")).RestartCount);

        // Once the state root is writable again the next tick writes the record.
        File.Delete(Store.Dir);
        Clock.Advance(TimeSpan.FromSeconds(5));
        await AwaitAssertAsync(() =>
        {
            var record = Store.Read("web");
            Assert.NotNull(record);
            Assert.Equal(1, record.RestartCount);
            Assert.Equal(1, record.LastExitCode);
        }, TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task A_state_naming_a_foreign_process_is_not_adopted_and_that_process_is_never_signalled()
    {
        var foreign = Runtime.Seed("web", ContainerStatus.Stopped) with { Disowned = true };
        Runtime.Replace(foreign);
        StartSupervisor(Settings(Web));
        var disowned = await NextEvent<ContainerDisowned>();
        Assert.Equal(foreign.InitPid, disowned.Pid);
        Assert.Equal(ContainerStatus.Stopped, (await NextEvent<ContainerAdopted>()).Status);
        Clock.Advance((await NextEvent<ContainerRestarting>()).Delay);
        var started = await NextEvent<ContainerStarted>();
        Assert.NotEqual(foreign.InitPid, started.Pid);
        Assert.Empty(Runtime.Signals);
    }
}
