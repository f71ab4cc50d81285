using Supervisor.Runtime;
using Supervisor.Runtime.Configs;
using Supervisor.Runtime.State;

namespace Supervisor.Remote.Gateway;

/// <summary>Read-only facts about a container that the supervisor's records do not carry (bundle, creation time, base process).</summary>
public interface IContainerInspector
{
    /// <summary>The OCI state, or null when the container does not exist.</summary>
    OciState? State(string id);

    /// <summary>The process settings of the container's config (what an exec starts from), or null when it does not exist.</summary>
    ProcessConfig? BaseProcess(string id);
}

/// <summary>Reads the state root the supervisor owns, without changing anything.</summary>
public sealed class StateRootInspector(string stateRoot) : IContainerInspector
{
    private readonly ContainerFactory _factory = new(new RuntimeOptions { StateRoot = stateRoot });

    public OciState? State(string id)
    {
        try
        {
            return _factory.Exists(id) ? _factory.Load(id).State() : null;
        }
        catch (ContainerNotFoundException)
        {
            return null;
        }
    }

    public ProcessConfig? BaseProcess(string id)
    {
        try
        {
            return _factory.Exists(id) ? _factory.Load(id).Config.Process : null;
        }
        catch (ContainerNotFoundException)
        {
            return null;
        }
    }
}
