namespace Supervisor.Runtime;

/// <summary>Base of the runtime's user-facing errors: the message is one line, fit to print as is.</summary>
public class RuntimeException : Exception
{
    public RuntimeException(string message) : base(message) { }
    public RuntimeException(string message, Exception inner) : base(message, inner) { }
}

public sealed class ContainerNotFoundException(string id) : RuntimeException($"container {id} does not exist")
{
    public string Id { get; } = id;
}

public sealed class ContainerExistsException(string id) : RuntimeException($"container with id {id} already exists")
{
    public string Id { get; } = id;
}

public sealed class CorruptStateException(string id, string detail)
    : RuntimeException($"state of container {id} is unreadable: {detail}");

/// <summary>An operation that the container's current status does not allow.</summary>
public sealed class InvalidContainerStateException(string message) : RuntimeException(message);
