using Akka.Actor;
using Akka.Configuration;
using Akka.TestKit;
using Akka.TestKit.Xunit2;
using Supervisor.Actors.Restart;
using Supervisor.Actors.Tests.Fakes;
using Xunit.Abstractions;

namespace Supervisor.Actors.Tests;

/// <summary>
/// An ActorSystem on the TestKit's virtual scheduler (time moves only when a test advances it), a fake
/// runtime over a temp state root, and a probe subscribed to every container event.
/// </summary>
public abstract class SupervisorSpecBase : TestKit, IDisposable
{
    protected const string Hocon = """
        akka.scheduler.implementation = "Akka.TestKit.TestScheduler, Akka.TestKit"
        akka.loglevel = DEBUG
        """;

    protected SupervisorSpecBase(ITestOutputHelper output) : base(Hocon, output: output)
    {
        Root = Directory.CreateTempSubdirectory("actors-spec").FullName;
        Runtime = new FakeRuntime(Root, () => Sys.Scheduler.Now);
        Store = new RestartStore(Root);
        Events = CreateTestProbe();
        Sys.EventStream.Subscribe(Events.Ref, typeof(IContainerEvent));
    }

    protected string Root { get; }
    protected FakeRuntime Runtime { get; }
    protected RestartStore Store { get; }
    protected TestProbe Events { get; }
    protected TestScheduler Clock => (TestScheduler)Sys.Scheduler;

    protected static SupervisorSettings Settings(string extra = "") =>
        SupervisorSettings.Create(ConfigurationFactory.ParseString(
            """
            supervisor.stats.interval = 1h
            supervisor.stop-timeout = 10s
            """ + "\n" + extra));

    protected IActorRef StartSupervisor(SupervisorSettings settings) =>
        Sys.ActorOf(ContainerSupervisor.Props(settings, Runtime, () => 0.0), "containers");

    /// <summary>The next event of type <typeparamref name="T"/>, skipping events of other types.</summary>
    protected async Task<T> NextEvent<T>(Func<T, bool>? match = null) where T : IContainerEvent
    {
        while (true)
        {
            var e = await Events.ExpectMsgAsync<IContainerEvent>(TimeSpan.FromSeconds(5));
            if (e is T t && (match is null || match(t)))
                return t;
        }
    }

    protected async Task<ContainerInfo> State(IActorRef sup, string id)
    {
        return await sup.Ask<ContainerInfo>(new GetContainerState(id), TimeSpan.FromSeconds(5));
    }

    void IDisposable.Dispose()
    {
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
        }
        Dispose();
    }
}
