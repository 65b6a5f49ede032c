package io.tern.cli;

import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.Callable;

import io.tern.node.NodeHome;
import io.tern.security.Certificates;
import io.tern.security.Transport;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code tern cert ca|issue|show|reload|members}: the cluster's CA, node certificates, and who
 * may connect. Replication and link sessions run over mutual TLS 1.3 with them (docs/security.md).
 */
@Command(name = "cert", mixinStandardHelpOptions = true,
        description = {"The cluster's certificate authority, node certificates and members.",
                "Nodes talk over mutual TLS 1.3: each presents a certificate of the cluster's CA naming it, and "
                        + "admits members only."},
        subcommands = {CertCommands.Ca.class, CertCommands.Issue.class, CertCommands.Show.class,
                CertCommands.Reload.class, CertCommands.Members.class},
        footer = {"", "Examples:",
                "  tern cert ca --dir /root/tern-ca --cluster prod",
                "  tern cert issue a --ca /root/tern-ca --home /var/lib/tern/a",
                "  tern cert reload --home /var/lib/tern/a",
                "", "Exit codes: see each subcommand."})
final class CertCommands implements Callable<Integer> {
    @Override
    public Integer call() {
        throw new CommandFailure(ExitCodes.USAGE, "say what: tern cert ca|issue|show|reload|members (tern cert --help)");
    }

    @Command(name = "ca", mixinStandardHelpOptions = true,
            description = {"Make a new certificate authority for a cluster: DIR/ca.crt and DIR/ca.key (0600).",
                    "Keep ca.key off the nodes: it is needed only to issue certificates."},
            footer = {"", "Examples:",
                    "  tern cert ca --dir /root/tern-ca --cluster prod --days 3650",
                    "", "Exit codes:",
                    "  0  made",
                    "  1  refused: DIR holds a CA already",
                    "  2  usage"})
    static final class Ca implements Callable<Integer> {
        @Option(names = "--dir", required = true, paramLabel = "DIR", description = "Where the CA's files go.")
        Path dir;

        @Option(names = "--cluster", paramLabel = "ID", defaultValue = NodeHome.DEFAULT_CLUSTER,
                description = "The cluster id its nodes have (default: ${DEFAULT-VALUE}).")
        String cluster;

        @Option(names = "--days", defaultValue = "3650", description = "How long it is valid (default: ${DEFAULT-VALUE}).")
        int days;

        @Override
        public Integer call() throws Exception {
            NodeHome.checkName("cluster", cluster);
            if (days < 1) {
                throw new CommandFailure(ExitCodes.USAGE, "--days must be at least 1");
            }
            if (Files.exists(dir.resolve(Certificates.CA_CERT)) || Files.exists(dir.resolve(Certificates.CA_KEY))) {
                throw new CommandFailure(ExitCodes.FAILED, dir + " holds a CA already: use it, or pick another --dir");
            }
            Certificates.Issued ca = Certificates.newCa(cluster, Instant.now().plus(Duration.ofDays(days)));
            Certificates.write(ca, dir.resolve(Certificates.CA_CERT), dir.resolve(Certificates.CA_KEY), false);
            System.out.println("CA of cluster " + cluster + " in " + dir.toAbsolutePath() + " (valid until "
                    + ca.certificate().getNotAfter().toInstant() + "); next: tern cert issue NODE --ca " + dir
                    + " --home HOME");
            return ExitCodes.OK;
        }
    }

    @Command(name = "issue", mixinStandardHelpOptions = true,
            description = {"Issue a node's certificate, signed by the CA in --ca.",
                    "With --home it goes to HOME/tls (node.crt, node.key 0600, the CA's ca.crt) and must name that "
                            + "home's node and cluster; with --out to any folder, to copy to the node. With --replace an "
                            + "older certificate is replaced (rotation): then run 'tern cert reload'."},
            footer = {"", "Examples:",
                    "  tern cert issue a --ca /root/tern-ca --home /var/lib/tern/a --san a.example.net,10.0.0.1",
                    "  tern cert issue vmhost1 --ca /root/tern-ca --out /etc/tern-nbd --layout qemu   # an NBD client",
                    "  tern cert issue b --ca /root/tern-ca --cluster prod --out /tmp/b-tls   # then copy to b's HOME/tls",
                    "  tern cert issue a --ca /root/tern-ca --home /var/lib/tern/a --replace && tern cert reload --home /var/lib/tern/a",
                    "", "Exit codes:",
                    "  0  issued",
                    "  1  refused: e.g. a certificate exists (without --replace), or the home is another node's",
                    "  2  usage"})
    static final class Issue implements Callable<Integer> {
        @Parameters(index = "0", paramLabel = "NODE", description = "The node's name.")
        String node;

        @Option(names = "--ca", required = true, paramLabel = "DIR", description = "The CA's folder (tern cert ca).")
        Path ca;

        @Option(names = "--home", paramLabel = "DIR", description = "The node's home: write to its tls/ folder.")
        Path home;

        @Option(names = "--out", paramLabel = "DIR", description = "Write to this folder instead of a home.")
        Path out;

        @Option(names = "--cluster", paramLabel = "ID", description = "The cluster (default: the home's, or the CA's).")
        String cluster;

        @Option(names = "--days", defaultValue = "365", description = "How long it is valid (default: ${DEFAULT-VALUE}).")
        int days;

        @Option(names = "--replace", description = "Replace a certificate that is there (rotation).")
        boolean replace;

        @Option(names = "--san", paramLabel = "NAME,..", split = ",", description = "More names it is valid for: the "
                + "host names and IP addresses NBD clients use to reach the node (they check them).")
        java.util.List<String> san = java.util.List.of();

        @Option(names = "--layout", paramLabel = "tern|qemu", defaultValue = "tern", description = "File names: tern "
                + "(ca.crt, node.crt, node.key) or qemu (ca-cert.pem, client-cert.pem, client-key.pem: the folder "
                + "qemu's tls-creds-x509 and libnbd's tls-certificates read) for an NBD client (default: "
                + "${DEFAULT-VALUE}).")
        String layout;

        @Override
        public Integer call() throws Exception {
            NodeHome.checkName("node", node);
            if (!layout.equals("tern") && !layout.equals("qemu")) {
                throw new CommandFailure(ExitCodes.USAGE, "--layout is tern or qemu, not '" + layout + "'");
            }
            if (layout.equals("qemu") && home != null) {
                throw new CommandFailure(ExitCodes.USAGE, "--layout qemu is for an NBD client's folder: use --out DIR");
            }
            if ((home == null) == (out == null)) {
                throw new CommandFailure(ExitCodes.USAGE, "say where it goes: --home DIR or --out DIR");
            }
            if (days < 1) {
                throw new CommandFailure(ExitCodes.USAGE, "--days must be at least 1");
            }
            Certificates.Issued authority = Certificates.read(ca.resolve(Certificates.CA_CERT),
                    ca.resolve(Certificates.CA_KEY));
            String caCluster = Certificates.organization(authority.certificate());
            Path target = out;
            if (home != null) {
                NodeHome h = NodeHome.open(home);
                if (!h.node().equals(node)) {
                    throw new CommandFailure(ExitCodes.FAILED, home + " is the home of node " + h.node() + ", not " + node);
                }
                if (cluster != null && !cluster.equals(h.cluster())) {
                    throw new CommandFailure(ExitCodes.FAILED, home + " is a node of cluster " + h.cluster() + ", not "
                            + cluster);
                }
                cluster = h.cluster();
                target = h.dir().resolve(Transport.DIR);
            }
            if (cluster == null) {
                cluster = caCluster;
            }
            if (!cluster.equals(caCluster)) {
                throw new CommandFailure(ExitCodes.FAILED, "the CA in " + ca + " is cluster " + caCluster + "'s, not "
                        + cluster + "'s");
            }
            io.tern.log.DurableFiles.createDirectories(target);
            java.nio.file.attribute.PosixFileAttributeView view = Files.getFileAttributeView(target,
                    java.nio.file.attribute.PosixFileAttributeView.class);
            view.setPermissions(java.nio.file.attribute.PosixFilePermissions.fromString("rwx------"));
            Instant now = Instant.now();
            Certificates.Issued issued = Certificates.issue(authority, cluster, node, now.minusSeconds(60),
                    now.plus(Duration.ofDays(days)), san);
            boolean qemu = layout.equals("qemu");
            Certificates.write(issued, target.resolve(qemu ? "client-cert.pem" : Certificates.NODE_CERT),
                    target.resolve(qemu ? "client-key.pem" : Certificates.NODE_KEY), replace);
            Certificates.writeCertificate(authority.certificate(), target.resolve(qemu ? "ca-cert.pem"
                    : Certificates.CA_CERT));
            System.out.println("certificate of node " + node + " (cluster " + cluster + ") in " + target.toAbsolutePath()
                    + ", valid until " + issued.certificate().getNotAfter().toInstant()
                    + (replace && home != null ? "; a running node takes it with 'tern cert reload --home " + home + "'" : ""));
            return ExitCodes.OK;
        }
    }

    @Command(name = "show", mixinStandardHelpOptions = true,
            description = "Show the node's transport, certificate (subject, issuer, validity) and members.",
            footer = {"", "Examples:", "  tern cert show --home /var/lib/tern/a", "", "Exit codes:",
                    "  0  shown", "  1  refused: e.g. no certificate where transport=tls"})
    static final class Show implements Callable<Integer> {
        @Mixin
        HomeOption home;

        @Override
        public Integer call() throws Exception {
            NodeHome h = home.open();
            String transport = h.nodeProperties().getProperty("transport", "tls");
            System.out.println("transport: " + transport);
            Set<String> members = h.members();
            System.out.println("members:   " + (members.isEmpty() ? "(any holder of a certificate of the cluster's CA)"
                    : String.join(",", members)));
            Path tls = h.dir().resolve(Transport.DIR);
            if (!Files.exists(tls.resolve(Certificates.NODE_CERT))) {
                if (transport.equals("tls")) {
                    throw new CommandFailure(ExitCodes.FAILED, "no certificate in " + tls + ": tern cert issue " + h.node()
                            + " --ca CA_DIR --home " + h.dir());
                }
                return ExitCodes.OK;
            }
            X509Certificate c = Certificates.readCertificate(tls.resolve(Certificates.NODE_CERT));
            System.out.println("subject:   " + c.getSubjectX500Principal().getName());
            System.out.println("issuer:    " + c.getIssuerX500Principal().getName());
            System.out.println("valid:     " + c.getNotBefore().toInstant() + " to " + c.getNotAfter().toInstant()
                    + (c.getNotAfter().toInstant().isBefore(Instant.now()) ? " (EXPIRED)" : ""));
            return ExitCodes.OK;
        }
    }

    @Command(name = "reload", mixinStandardHelpOptions = true,
            description = {"Make the running node reread its certificate, key, CA and members (as SIGHUP does).",
                    "New sessions use them; open ones keep theirs; sessions of a peer no longer a member are closed."},
            footer = {"", "Examples:", "  tern cert reload --home /var/lib/tern/a", "", "Exit codes:",
                    "  0  reloaded", "  1  refused: the new material is unusable (the node keeps the old)",
                    "  3  the node's daemon is not running"})
    static final class Reload implements Callable<Integer> {
        @Mixin
        HomeOption home;

        @Override
        public Integer call() throws Exception {
            return Daemon.act(home, "/tls/reload");
        }
    }

    @Command(name = "members", mixinStandardHelpOptions = true,
            description = {"Show or change who may connect to this node (members in node.properties).",
                    "Empty: any holder of a certificate of the cluster's CA. --remove revokes a node: a running "
                            + "node closes its sessions at once. Change it on every node."},
            footer = {"", "Examples:",
                    "  tern cert members --set a,b,c --home /var/lib/tern/a",
                    "  tern cert members --remove c --home /var/lib/tern/a   # revoke c",
                    "", "Exit codes:", "  0  shown or changed (and the running node reloaded)",
                    "  1  refused: e.g. removing from an empty list", "  2  usage: e.g. a bad name"})
    static final class Members implements Callable<Integer> {
        @Mixin
        HomeOption home;

        @Option(names = "--set", paramLabel = "A,B,..", split = ",", description = "The whole list.")
        java.util.List<String> set;

        @Option(names = "--add", paramLabel = "NODE", description = "Add one node.")
        String add;

        @Option(names = "--remove", paramLabel = "NODE", description = "Remove (revoke) one node.")
        String remove;

        @Override
        public Integer call() throws Exception {
            NodeHome h = home.open();
            Set<String> members = new TreeSet<>(h.members());
            boolean change = set != null || add != null || remove != null;
            if (set != null) {
                members.clear();
                set.stream().map(String::trim).filter(s -> !s.isEmpty()).forEach(members::add);
            }
            if (add != null) {
                members.add(add);
            }
            if (remove != null) {
                if (members.isEmpty()) {
                    throw new CommandFailure(ExitCodes.FAILED, "the member list is empty (any certificate holder gets "
                            + "in): set it without " + remove + " instead, e.g. tern cert members --set a,b");
                }
                if (!members.remove(remove)) {
                    throw new CommandFailure(ExitCodes.FAILED, remove + " is not a member (" + String.join(",", members)
                            + ")");
                }
            }
            for (String m : members) {
                try {
                    NodeHome.checkName("member", m);
                } catch (IllegalArgumentException e) {
                    throw new CommandFailure(ExitCodes.USAGE, e.getMessage());
                }
            }
            if (change) {
                if (!members.isEmpty() && !members.contains(h.node())) {
                    members.add(h.node()); // a node is always a member of its own list
                }
                h.setNodeProperty("members", members.isEmpty() ? null : String.join(",", members));
                Daemon.Answer a = Daemon.call(h, "POST", "/tls/reload");
                if (a != null && a.code() != 200) {
                    throw Daemon.failure(h, a);
                }
            }
            System.out.println("members: " + (members.isEmpty() ? "(any holder of a certificate of the cluster's CA)"
                    : String.join(",", members)));
            return ExitCodes.OK;
        }
    }
}
