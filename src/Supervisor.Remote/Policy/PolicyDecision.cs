namespace Supervisor.Remote.Policy;

/// <summary>Allowed, or denied with one reason a user can act on.</summary>
public sealed record PolicyDecision(bool Allowed, string? Reason)
{
    public static PolicyDecision Allow { get; } = new(true, null);

    public static PolicyDecision Deny(string reason) => new(false, reason);
}
