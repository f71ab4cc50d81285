namespace Supervisor.Runtime.Validation;

/// <summary>
/// A container configuration that cannot be used: malformed config.json, a field that cannot be converted,
/// or a validation failure. The message is one line that names the field; <see cref="Problems"/> holds every
/// problem found when validation collected more than one. A supervisor treats this as permanent (no retry).
/// </summary>
public class ConfigException : Exception
{
    public ConfigException(string message) : base(message) => Problems = [message];

    public ConfigException(string message, IReadOnlyList<string> problems) : base(message) => Problems = problems;

    public ConfigException(string message, Exception inner) : base(message, inner) => Problems = [message];

    public IReadOnlyList<string> Problems { get; }
}

/// <summary>A container id that is unsafe as a file name or does not follow the id rules.</summary>
public sealed class InvalidIdException(string message) : Exception(message);
