using Supervisor.Cluster;
using Supervisor.Remote.Security;
using Supervisor.Runtime.Oci;
using Supervisor.Runtime.Validation;

namespace Supervisor.Remote.Policy;

/// <summary>
/// The admission of a cluster node that has a remote-control policy: a config carried by a workload is checked
/// again, here, against this node's <see cref="ControlPolicy"/> for the role of the client who asked for it.
/// The gateway that received the request checked it against its own filesystem; the allowed roots, and
/// where their symbolic links lead, are this node's business, since this node's kernel will mount the paths.
/// A workload without a config (a bundle path from the cluster API, whose members are trusted) is let through,
/// as is a config without a role (also from the cluster API).
/// </summary>
public sealed class PolicyWorkloadAdmission(ControlPolicy policy) : IWorkloadAdmission
{
    public string? Refuse(WorkloadSpec spec)
    {
        if (spec.Config is null)
            return null;
        ControlRole role;
        switch (spec.AdmitAs)
        {
            case null or AdmissionRoles.Admin:
                role = ControlRole.Admin;
                break;
            case AdmissionRoles.Operator:
                role = ControlRole.Operator;
                break;
            default:
                return $"unknown requester role \"{spec.AdmitAs}\"";
        }
        OciSpec oci;
        try
        {
            oci = SpecLoader.Parse(spec.Config, "the workload's config");
        }
        catch (ConfigException e)
        {
            return e.Message;
        }
        // The carried config's paths are absolute (CheckedConfig): there is no bundle directory to resolve against.
        var decision = policy.CheckRun(role, oci, null);
        return decision.Allowed ? null : decision.Reason;
    }

    /// <summary>The <see cref="WorkloadSpec.AdmitAs"/> text of a certificate role.</summary>
    public static string RoleName(ControlRole role) => role == ControlRole.Admin ? AdmissionRoles.Admin : AdmissionRoles.Operator;
}
