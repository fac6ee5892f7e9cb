package dev.dora4j.spark;

import dev.dora4j.DoraException;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;

/**
 * What one rank tells the others once, through {@code BarrierTaskContext.allGather}, before training: where it listens
 * for the ring, the fingerprints of the base model and training data it sees, and (rank 0 only) the checkpoint step the
 * gang resumes from (0: the start).
 */
record GangMember(String host, int port, String modelHash, String dataHash, long resumeStep) {
    String encode() {
        return String.join("\t", host, Integer.toString(port), modelHash, dataHash, Long.toString(resumeStep));
    }

    static GangMember decode(String message) {
        String[] f = message.split("\t", -1);
        if (f.length != 5) throw new DoraException("a rank sent a malformed greeting: " + message);
        return new GangMember(f[0], Integer.parseInt(f[1]), f[2], f[3], Long.parseLong(f[4]));
    }

    InetSocketAddress address() {
        return new InetSocketAddress(host, port);
    }

    /** The ring's addresses in rank order, after checking that every rank sees rank 0's model and data. */
    static List<InetSocketAddress> agree(List<GangMember> members, String model, String data) {
        GangMember first = members.getFirst();
        List<InetSocketAddress> addresses = new ArrayList<>();
        for (int r = 0; r < members.size(); r++) {
            GangMember m = members.get(r);
            if (!m.modelHash().equals(first.modelHash())) {
                throw new DoraException(String.format("rank %d (%s) sees a different base model at %s (fingerprint %s) than rank 0 "
                        + "(%s) on %s; every worker needs the same model files", r, m.host(), model, m.modelHash(),
                        first.modelHash(), first.host()));
            }
            if (!m.dataHash().equals(first.dataHash())) {
                throw new DoraException(String.format("rank %d (%s) sees different training data at %s (fingerprint %s) than rank 0 "
                        + "(%s) on %s; every worker needs the same data file", r, m.host(), data, m.dataHash(),
                        first.dataHash(), first.host()));
            }
            addresses.add(m.address());
        }
        return addresses;
    }
}
