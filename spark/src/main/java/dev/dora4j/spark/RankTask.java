package dev.dora4j.spark;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.dora4j.DoraException;
import dev.dora4j.kernel.Parallel;
import dev.dora4j.model.BundledModel;
import dev.dora4j.train.DataParallel;
import dev.dora4j.train.GradientReducer;
import dev.dora4j.train.TrainCheckpoints;
import dev.dora4j.train.TrainConfig;
import dev.dora4j.train.TrainingRun;
import java.io.IOException;
import java.io.Serializable;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.apache.spark.BarrierTaskContext;
import scala.jdk.javaapi.CollectionConverters;
import scala.runtime.AbstractFunction1;

/**
 * One rank of the gang, run as a barrier task: greets the others (ring address, model and data fingerprints, and from
 * rank 0 the checkpoint to resume from), opens the run, joins the ring and trains. Rank 0 works in the run's output
 * directory (checkpoints, metrics.jsonl, the adapter); the other ranks open the same checkpoint through a scratch
 * directory of their own and write nothing the user sees.
 */
final class RankTask extends AbstractFunction1<scala.collection.Iterator<Integer>, scala.collection.Iterator<String>>
        implements Serializable {
    private static final ObjectMapper JSON = new ObjectMapper();
    private final String out;
    private final SparkTrainOptions options;

    RankTask(Path out, SparkTrainOptions options) {
        this.out = out.toString();
        this.options = options;
    }

    @Override
    public scala.collection.Iterator<String> apply(scala.collection.Iterator<Integer> partition) {
        return CollectionConverters.asScala(List.of(run()).iterator());
    }

    private String run() {
        BarrierTaskContext ctx = BarrierTaskContext.get();
        int rank = ctx.partitionId(), ranks = ctx.getTaskInfos().length;
        Path outDir = Path.of(out);
        TrainConfig config = SparkTraining.readConfig(outDir);
        if (options.threadsPerWorker() > 0) Parallel.setThreads(options.threadsPerWorker());
        Path model = config.model() == null ? BundledModel.checkpoint() : Path.of(config.model());
        String host = ctx.getTaskInfos()[rank].address().replaceFirst(":\\d+$", "");
        Path scratch = null;
        try (ServerSocket server = new ServerSocket(0, 50, InetAddress.getByName(host))) {
            long resumeStep = rank == 0 ? newestCheckpoint(outDir) : 0;
            GangMember me = new GangMember(host, server.getLocalPort(), Fingerprint.of(model), Fingerprint.of(Path.of(config.data())),
                    resumeStep);
            List<GangMember> members = new ArrayList<>();
            for (String m : ctx.allGather(me.encode())) members.add(GangMember.decode(m));
            List<InetSocketAddress> addresses = GangMember.agree(members, model.toString(), config.data());
            long from = members.getFirst().resumeStep();
            TrainingRun run;
            if (rank == 0) {
                run = TrainingRun.resume(outDir, BundledModel.checkpoint());
            } else {
                scratch = Files.createTempDirectory("dora4j-rank" + rank + "-");
                run = TrainingRun.resume(follower(outDir, scratch, from), BundledModel.checkpoint());
            }
            if (run.trainer().step() != from) {
                throw new DoraException(out + ": rank " + rank + " opened step " + run.trainer().step() + " where rank 0 resumes from "
                        + from + "; a checkpoint changed while the gang started");
            }
            long gang = (long) ctx.stageId() << 32 | ctx.stageAttemptNumber();
            Duration timeout = Duration.ofSeconds(options.peerTimeoutSeconds());
            try (RingAllReduce ring = RingAllReduce.connect(rank, gang, addresses, server, timeout, options.checksumEvery())) {
                GradientReducer reducer = (step, parameters, local) -> {
                    if (ctx.isInterrupted()) throw new DoraException("rank " + rank + ": the task was killed in step " + step);
                    if (step == options.faultAtStep() && rank == ranks - 1 && ctx.stageAttemptNumber() == 0) {
                        throw new DoraException("rank " + rank + ": fault drill in step " + step + " of the first attempt");
                    }
                    return ring.allReduce(step, parameters, local);
                };
                run.trainer().dataParallel(new DataParallel(rank, ranks, reducer));
                run.run(m -> {}, Long.MAX_VALUE);
            }
            return String.format("rank %d of %d on %s: steps %d to %d, adapter checksum %016x", rank, ranks, host, from,
                    run.trainer().step(), RingAllReduce.checksum(TrainingRun.adapterParameters(run.adapters(), 1f)));
        } catch (IOException e) {
            throw new DoraException("rank " + rank + " on " + host + ": " + e.getMessage(), e);
        } finally {
            if (scratch != null) SparkTraining.deleteTree(scratch);
        }
    }

    private static long newestCheckpoint(Path out) {
        List<Path> all = new TrainCheckpoints(out).list();
        return all.isEmpty() ? 0 : TrainCheckpoints.stepOf(all.getLast());
    }

    /**
     * A run directory for a rank other than 0: the run's settings without held-out scoring or checkpoints, and the
     * checkpoint the gang resumes from linked in.
     */
    private static Path follower(Path out, Path scratch, long step) throws IOException {
        ObjectNode settings = (ObjectNode) JSON.readTree(out.resolve(TrainingRun.RUN_FILE).toFile());
        settings.putNull("evalData");
        settings.put("evalEvery", 0);
        settings.put("saveEvery", 0);
        Files.writeString(scratch.resolve(TrainingRun.RUN_FILE), settings.toString());
        if (step > 0) {
            Path checkpoints = Files.createDirectories(scratch.resolve(TrainCheckpoints.DIR));
            Path shared = new TrainCheckpoints(out).dir(step);
            Files.createSymbolicLink(checkpoints.resolve(shared.getFileName()), shared.toAbsolutePath());
        }
        return scratch;
    }
}
