using Akka.Actor;
using Supervisor.Actors.Restart;
using Supervisor.Actors.Runtime;
using Supervisor.Runtime;
using Xunit.Abstractions;

namespace Supervisor.Actors.Tests;

public class ContainerActorSpecs(ITestOutputHelper output) : SupervisorSpecBase(output)
{
    private const string Web = """
        supervisor.containers = [ { id = "web", bundle = "/bundles/web", restart { policy = "on-failure", max-retries = 3 } } ]
        """;

    [Fact]
    public async Task A_configured_container_is_run_when_the_supervisor_starts()
    {
        var sup = StartSupervisor(Settings(Web));
        var started = await NextEvent<ContainerStarted>();
        Assert.Equal("web", started.Id);
        Assert.Equal(0, started.RestartCount);
        Assert.Equal(1, Runtime.Count("run"));
        var info = await State(sup, "web");
        Assert.Equal(ContainerStatus.Running, info.Status);
        Assert.Equal(started.Pid, info.Pid);
        Assert.Equal("on-failure:3", info.Restart);
    }

    [Fact]
    public async Task Failures_restart_with_docker_backoff_driven_by_the_scheduler()
    {
        StartSupervisor(Settings(Web));
        await NextEvent<ContainerStarted>();

        Runtime.Exit("web", 1);
        var exited = await NextEvent<ContainerExited>();
        Assert.Equal(1, exited.ExitCode);
        var restarting = await NextEvent<ContainerRestarting>();
        Assert.Equal(TimeSpan.FromMilliseconds(100), restarting.Delay);
        Assert.Equal(1, restarting.RestartCount);

        // Nothing happens until the virtual clock reaches the delay.
        Clock.Advance(TimeSpan.FromMilliseconds(99));
        await Events.ExpectNoMsgAsync(TimeSpan.FromMilliseconds(200));
        Assert.Equal(1, Runtime.Count("run"));
        Clock.Advance(TimeSpan.FromMilliseconds(1));
        var again = await NextEvent<ContainerStarted>();
        Assert.Equal(1, again.RestartCount);
        Assert.Equal(2, Runtime.Count("run"));
        Assert.Equal(1, Runtime.Count("delete"));

        Runtime.Exit("web", 2);
        Assert.Equal(TimeSpan.FromMilliseconds(200), (await NextEvent<ContainerRestarting>()).Delay);
        Clock.Advance(TimeSpan.FromMilliseconds(199));
        await Events.ExpectNoMsgAsync(TimeSpan.FromMilliseconds(200));
        Clock.Advance(TimeSpan.FromMilliseconds(1));
        Assert.Equal(2, (await NextEvent<ContainerStarted>()).RestartCount);

        // The count and the last exit are on disk after each decision.
        var record = Store.Read("web");
        Assert.NotNull(record);
        Assert.Equal(2, record.RestartCount);
        Assert.Equal(2, record.LastExitCode);
        Assert.False(record.RestartPending);
    }

    [Fact]
    public async Task On_failure_3_gives_up_after_three_restarts_and_a_clean_exit_is_left_alone()
    {
        StartSupervisor(Settings(Web));
        await NextEvent<ContainerStarted>();
        for (int i = 1; i <= 3; i++)
        {
            Runtime.Exit("web", 1);
            var r = await NextEvent<ContainerRestarting>();
            Clock.Advance(r.Delay);
            Assert.Equal(i, (await NextEvent<ContainerStarted>()).RestartCount);
        }
        Runtime.Exit("web", 1);
        var stay = await NextEvent<ContainerNotRestarted>();
        Assert.Contains("exhausted", stay.Reason);
        Assert.Equal(4, Runtime.Count("run"));
        Assert.True(Store.Read("web")!.GaveUp);
    }

    [Fact]
    public async Task A_kill_9_of_the_init_counts_as_a_failure_and_is_restarted_once()
    {
        StartSupervisor(Settings(Web));
        await NextEvent<ContainerStarted>();
        Runtime.Exit("web", 0, signal: 9);
        var exited = await NextEvent<ContainerExited>();
        Assert.Equal(137, exited.ExitCode);
        Assert.Equal(9, exited.Signal);
        var r = await NextEvent<ContainerRestarting>();
        Clock.Advance(r.Delay);
        await NextEvent<ContainerStarted>();
        Assert.Equal(1, Store.Read("web")!.RestartCount);
    }

    [Fact]
    public async Task An_actor_restart_does_not_restart_the_container()
    {
        var sup = StartSupervisor(Settings(Web));
        var started = await NextEvent<ContainerStarted>();

        // A transient host fault while serving a command: the actor throws and is restarted.
        Runtime.FailNextInspect = new IOException("read /run/x/state.json: EIO");
        CommandFailed? failed = null;
        await EventFilter.Warning(contains: "actor restarted").ExpectOneAsync(async () =>
            failed = await sup.Ask<CommandFailed>(new GetContainerState("web"), TimeSpan.FromSeconds(5)));
        Assert.Contains("EIO", failed!.Error);

        // The new incarnation backs off (100 ms of virtual time), re-reads the state and adopts the same init.
        Clock.Advance(TimeSpan.FromMilliseconds(100));
        var adopted = await NextEvent<ContainerAdopted>();
        Assert.Equal(ContainerStatus.Running, adopted.Status);
        Assert.Equal(started.Pid, adopted.Pid);
        Assert.Equal(1, Runtime.Count("run"));
        Assert.Equal(0, Runtime.Count("delete"));
        Assert.Empty(Runtime.Signals);
        var info = await State(sup, "web");
        Assert.Equal(started.Pid, info.Pid);

        // And it still watches the init: an exit after the actor restart is handled.
        Runtime.Exit("web", 1);
        Assert.Equal(started.Pid, (await NextEvent<ContainerExited>()).Pid);
        await NextEvent<ContainerRestarting>();
    }

    [Fact]
    public async Task Too_many_actor_restarts_stop_the_actor_and_tear_the_container_down()
    {
        var sup = StartSupervisor(Settings(Web + "\nsupervisor.actor-restart.max-restarts = 2"));
        await NextEvent<ContainerStarted>();
        for (int i = 0; i < 3; i++)
        {
            Runtime.FailNextInspect = new IOException("EIO " + i);
            if (i < 2)
            {
                await EventFilter.Warning(contains: "actor restarted").ExpectOneAsync(async () =>
                    await sup.Ask<CommandFailed>(new GetContainerState("web"), TimeSpan.FromSeconds(5)));
                Clock.Advance(TimeSpan.FromSeconds(1));
                await NextEvent<ContainerAdopted>();
            }
            else
            {
                await sup.Ask<CommandFailed>(new GetContainerState("web"), TimeSpan.FromSeconds(5));
            }
        }
        await NextEvent<ContainerRemoved>();
        Assert.Null(Runtime.Get("web"));
        var list = await sup.Ask<ContainerList>(ListContainers.Instance, TimeSpan.FromSeconds(5));
        Assert.Empty(list.Ids);
    }

    [Fact]
    public async Task Stop_sends_sigterm_then_sigkill_after_the_timeout_and_suppresses_the_restart()
    {
        var sup = StartSupervisor(Settings("""supervisor.containers = [ { id = "web", bundle = "/b", restart.policy = always } ]"""));
        await NextEvent<ContainerStarted>();
        var reply = sup.Ask<CommandSucceeded>(new StopContainer("web", TimeSpan.FromSeconds(3)), TimeSpan.FromSeconds(5));
        await AwaitAssertAsync(() => Assert.Equal(("web", 15, false), Assert.Single(Runtime.Signals)));
        Clock.Advance(TimeSpan.FromSeconds(3));
        await AwaitAssertAsync(() => Assert.Equal(("web", 9, true), Runtime.Signals[1]));
        Runtime.Exit("web", 0, signal: 9);
        Assert.Equal("stop", (await reply).Command);
        var stay = await NextEvent<ContainerNotRestarted>();
        Assert.Contains("by hand", stay.Reason);
        Assert.True(Store.Read("web")!.ManuallyStopped);

        // A manual start clears the flag and the count.
        await sup.Ask<CommandSucceeded>(new StartContainer("web"), TimeSpan.FromSeconds(5));
        await NextEvent<ContainerStarted>();
        Assert.False(Store.Read("web")!.ManuallyStopped);
    }

    [Fact]
    public async Task An_oom_kill_is_published_and_makes_a_clean_exit_a_failure()
    {
        StartSupervisor(Settings(Web));
        await NextEvent<ContainerStarted>();
        await AwaitAssertAsync(() => Runtime.Oom("web"));
        // The kernel's burst of notifications for one kill is one event.
        Runtime.Oom("web");
        Runtime.Oom("web");
        var oom = await NextEvent<ContainerOomKilled>();
        Assert.Equal("web", oom.Id);
        Runtime.Exit("web", 0);
        // NextEvent would skip a second ContainerOomKilled: the very next event must be the exit.
        var exited = Assert.IsType<ContainerExited>(await Events.ExpectMsgAsync<IContainerEvent>(TimeSpan.FromSeconds(5)));
        Assert.True(exited.OomKilled);
        await NextEvent<ContainerRestarting>();
        Assert.True(Store.Read("web")!.LastOomKilled);
    }

    [Fact]
    public async Task The_protocol_creates_starts_pauses_resumes_execs_and_deletes()
    {
        var sup = StartSupervisor(Settings());
        var created = await sup.Ask<CommandSucceeded>(new CreateContainer("job", "/bundles/job"), TimeSpan.FromSeconds(5));
        Assert.Equal("create", created.Command);
        Assert.Equal(ContainerStatus.Created, (await NextEvent<ContainerCreated>() is { } c ? Runtime.Get(c.Id)!.Status : default));
        var dup = await sup.Ask<CommandFailed>(new CreateContainer("job", "/bundles/job"), TimeSpan.FromSeconds(5));
        Assert.Contains("already exists", dup.Error);

        await sup.Ask<CommandSucceeded>(new StartContainer("job"), TimeSpan.FromSeconds(5));
        await NextEvent<ContainerStarted>();
        await sup.Ask<CommandSucceeded>(new PauseContainer("job"), TimeSpan.FromSeconds(5));
        await NextEvent<ContainerPaused>();
        Assert.Equal(ContainerStatus.Paused, (await State(sup, "job")).Status);
        await sup.Ask<CommandSucceeded>(new ResumeContainer("job"), TimeSpan.FromSeconds(5));
        await NextEvent<ContainerResumed>();
        var exec = await sup.Ask<ExecStarted>(new ExecInContainer("job", new Supervisor.Runtime.Configs.ProcessConfig()), TimeSpan.FromSeconds(5));
        Assert.True(exec.Pid > 0);

        var notStopped = await sup.Ask<CommandFailed>(new DeleteContainer("job"), TimeSpan.FromSeconds(5));
        Assert.Contains("not stopped", notStopped.Error);
        await sup.Ask<CommandSucceeded>(new DeleteContainer("job", Force: true), TimeSpan.FromSeconds(5));
        await NextEvent<ContainerRemoved>();
        Assert.Null(Runtime.Get("job"));
        Assert.Null(Store.Read("job"));
        var missing = await sup.Ask<CommandFailed>(new GetContainerState("job"), TimeSpan.FromSeconds(5));
        Assert.Contains("does not exist", missing.Error);
        var checkpoint = await sup.Ask<CommandFailed>(new CheckpointContainer("nope", "/tmp/img"), TimeSpan.FromSeconds(5));
        Assert.Contains("does not exist", checkpoint.Error);
    }

    [Fact]
    public async Task A_bad_bundle_is_a_failed_command_not_a_fault()
    {
        Runtime.BadBundles.Add("/missing");
        var sup = StartSupervisor(Settings());
        var failed = await sup.Ask<CommandFailed>(new CreateContainer("x", "/missing"), TimeSpan.FromSeconds(5));
        Assert.Contains("config.json", failed.Error);
    }

    [Fact]
    public async Task A_configured_container_that_cannot_start_is_retried_with_backoff_within_its_limit()
    {
        Runtime.BadBundles.Add("/bundles/web");
        StartSupervisor(Settings(Web));
        var failed = await NextEvent<ContainerStartFailed>();
        Assert.Contains("config.json", failed.Error);
        Assert.Equal(255, (await NextEvent<ContainerExited>()).ExitCode);
        Assert.Equal(TimeSpan.FromMilliseconds(100), (await NextEvent<ContainerRestarting>()).Delay);
        Clock.Advance(TimeSpan.FromMilliseconds(100));
        await NextEvent<ContainerStartFailed>();
        Assert.Equal(TimeSpan.FromMilliseconds(200), (await NextEvent<ContainerRestarting>()).Delay);
        Clock.Advance(TimeSpan.FromMilliseconds(200));
        await NextEvent<ContainerStartFailed>();
        Assert.Equal(TimeSpan.FromMilliseconds(400), (await NextEvent<ContainerRestarting>()).Delay);
        Clock.Advance(TimeSpan.FromMilliseconds(400));
        await NextEvent<ContainerStartFailed>();
        Assert.Contains("exhausted", (await NextEvent<ContainerNotRestarted>()).Reason);
        Assert.Equal(4, Runtime.Count("run"));
    }

    [Fact]
    public async Task Stats_are_sampled_on_the_interval_kept_in_a_ring_and_stop_while_paused()
    {
        var sup = StartSupervisor(Settings(Web + "\nsupervisor.stats { interval = 5s, history = 2 }"));
        await NextEvent<ContainerStarted>();
        // A round trip through the poller: its timer is running once it answers.
        await sup.Ask<RecentStats>(new GetRecentStats("web"), TimeSpan.FromSeconds(5));
        for (int i = 0; i < 3; i++)
        {
            Clock.Advance(TimeSpan.FromSeconds(5));
            var s = await NextEvent<ContainerStats>();
            Assert.Equal(3UL, s.Cgroups.Pids.Current);
        }
        var recent = await sup.Ask<RecentStats>(new GetRecentStats("web"), TimeSpan.FromSeconds(5));
        Assert.Equal(2, recent.Samples.Count);

        await sup.Ask<CommandSucceeded>(new PauseContainer("web"), TimeSpan.FromSeconds(5));
        await NextEvent<ContainerPaused>();
        var before = Runtime.Count("stats");
        Clock.Advance(TimeSpan.FromSeconds(20));
        await Events.ExpectNoMsgAsync(TimeSpan.FromMilliseconds(200));
        Assert.Equal(before, Runtime.Count("stats"));

        await sup.Ask<CommandSucceeded>(new ResumeContainer("web"), TimeSpan.FromSeconds(5));
        await NextEvent<ContainerResumed>();
        await sup.Ask<RecentStats>(new GetRecentStats("web"), TimeSpan.FromSeconds(5));
        Clock.Advance(TimeSpan.FromSeconds(5));
        await NextEvent<ContainerStats>();
    }

    [Fact]
    public async Task The_supervisor_readopts_what_it_finds_and_acts_once_on_exits_it_missed()
    {
        // An earlier daemon left: a running container, and one that was killed while no daemon ran,
        // with two restarts already counted.
        var running = Runtime.Seed("alive", ContainerStatus.Running);
        Runtime.Seed("dead", ContainerStatus.Stopped, new ExitReport(4242, 137, 9, false, Clock.Now));
        Store.Write("dead", RestartRecord.Empty with { RestartCount = 2, Policy = "on-failure:5", StartedAt = Clock.Now.AddMinutes(-1) });
        Store.Write("alive", RestartRecord.Empty with { RestartCount = 1, Policy = "always" });

        var sup = StartSupervisor(Settings());
        var exited = await NextEvent<ContainerExited>(e => e.Id == "dead");
        Assert.Equal(137, exited.ExitCode);
        Assert.Equal(4242, exited.Pid);
        var restarting = await NextEvent<ContainerRestarting>(e => e.Id == "dead");
        Assert.Equal(3, restarting.RestartCount);

        var alive = await State(sup, "alive");
        Assert.Equal(running.InitPid, alive.Pid);
        Assert.Equal(1, alive.RestartCount);
        Assert.Equal("always", alive.Restart);
        Assert.Equal(0, Runtime.Count("run"));

        // The daemon dies before the restart delay has passed. The next one does not act on that exit a
        // second time: it carries out the pending restart, with the count unchanged.
        Assert.True(Store.Read("dead")!.RestartPending);
        Watch(sup);
        Sys.Stop(sup);
        await ExpectTerminatedAsync(sup);
        var sup2 = Sys.ActorOf(ContainerSupervisor.Props(Settings(), Runtime, () => 0.0), "containers2");
        var started = await NextEvent<ContainerStarted>(e => e.Id == "dead");
        Assert.Equal(3, started.RestartCount);
        Assert.Equal(1, Runtime.Count("run"));
        var info = await State(sup2, "dead");
        Assert.Equal(3, info.RestartCount);
        Assert.False(info.RestartPending);
        Assert.Equal(running.InitPid, (await State(sup2, "alive")).Pid);
    }

    [Fact]
    public async Task Unless_stopped_stays_down_after_a_manual_stop_across_a_daemon_restart_but_always_comes_back()
    {
        Runtime.Seed("us", ContainerStatus.Stopped, new ExitReport(10, 143, 15, false, Clock.Now));
        Runtime.Seed("al", ContainerStatus.Stopped, new ExitReport(11, 143, 15, false, Clock.Now));
        Store.Write("us", RestartRecord.Empty with { ManuallyStopped = true, LastExitPid = 10, LastFinishedAt = Clock.Now, LastExitCode = 143, Policy = "unless-stopped" });
        Store.Write("al", RestartRecord.Empty with { ManuallyStopped = true, LastExitPid = 11, LastFinishedAt = Clock.Now, LastExitCode = 143, Policy = "always" });
        var sup = StartSupervisor(Settings());
        var started = await NextEvent<ContainerStarted>();
        Assert.Equal("al", started.Id);
        Assert.Equal(ContainerStatus.Stopped, (await State(sup, "us")).Status);
        Assert.Equal(1, Runtime.Count("run"));
    }

    [Fact]
    public async Task Stop_all_on_shutdown_stops_without_marking_a_manual_stop()
    {
        var sup = StartSupervisor(Settings("""supervisor.containers = [ { id = "web", bundle = "/b", restart.policy = unless-stopped } ]"""));
        await NextEvent<ContainerStarted>();
        var done = sup.Ask<ContainersStopped>(StopAllContainers.Instance, TimeSpan.FromSeconds(20));
        await AwaitAssertAsync(() => Assert.Contains(("web", 15, false), Runtime.Signals));
        Runtime.Exit("web", 143, signal: 15);
        Assert.Equal(1, (await done).Count);
        await NextEvent<ContainerNotRestarted>();
        var record = Store.Read("web")!;
        Assert.False(record.ManuallyStopped);
        Assert.True(RestartTracker.ShouldStartOnDaemonStart(new RestartPolicy(RestartMode.UnlessStopped, 0, BackoffSettings.Docker, 0, TimeSpan.Zero), record));
    }

    [Theory]
    [InlineData(typeof(Supervisor.Runtime.Validation.ConfigException), "Stop")]
    [InlineData(typeof(IOException), "Restart")]
    [InlineData(typeof(ContainerNotFoundException), "Restart")]
    public void The_decider_stops_on_config_errors_and_restarts_on_transient_ones(Type type, string directive)
    {
        var e = (Exception)Activator.CreateInstance(type, "x")!;
        Assert.Equal(directive, ContainerSupervisor.Decide(e).ToString());
        Assert.Equal(Directive.Stop, ContainerSupervisor.Decide(new ActorInitializationException(null, "init", new Supervisor.Runtime.Validation.ConfigException("bad"))));
    }
}
