package io.chronik.compat;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.UUID;
import java.util.concurrent.TimeUnit;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.InvalidProducerEpochException;
import org.apache.kafka.common.errors.ProducerFencedException;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * Transactions with the Java client: committed transactions visible to read_committed, aborted
 * ones never, read_uncommitted sees both; an open transaction holds back read_committed (LSO);
 * sendOffsetsToTransaction consume-transform-produce; fencing of an older producer with the same
 * transactional.id.
 *
 * <p>Usage: {@code TxnCompat BOOTSTRAP}. Prints PASS/FAIL per check, then "N passed, N failed".
 * Exit status 1 if anything failed.
 */
public final class TxnCompat {
    private final String boot;
    private final String run = Long.toString(System.currentTimeMillis() % 1_000_000_000L);
    private int passed, failed;

    private TxnCompat(String boot) {
        this.boot = boot;
    }

    public static void main(String[] args) throws Exception {
        TxnCompat c = new TxnCompat(args.length > 0 ? args[0] : "127.0.0.1:9092");
        c.run("txn commit/abort visibility (read_committed, read_uncommitted)", c::commitAbortVisibility);
        c.run("txn open transaction invisible to read_committed, LSO", c::openTransaction);
        c.run("txn sendOffsetsToTransaction consume-transform-produce", c::sendOffsets);
        c.run("txn fencing: older producer gets ProducerFencedException", c::fencing);
        System.out.printf("%d passed, %d failed%n", c.passed, c.failed);
        System.out.flush();
        System.exit(c.failed == 0 ? 0 : 1);
    }

    interface Check {
        void run() throws Exception;
    }

    private void run(String name, Check fn) {
        long t0 = System.nanoTime();
        try {
            fn.run();
            passed++;
            System.out.printf("PASS %s (%d ms)%n", name, (System.nanoTime() - t0) / 1_000_000);
        } catch (Throwable e) {
            failed++;
            System.out.printf("FAIL %s: %s%n", name, String.valueOf(e).replace('\n', ' '));
            e.printStackTrace(System.err);
        }
        System.out.flush();
    }

    private static void check(boolean ok, String fmt, Object... args) {
        if (!ok) {
            throw new AssertionError(String.format(fmt, args));
        }
    }

    private static void checkEq(Object got, Object want, String what) {
        if (!got.equals(want)) {
            throw new AssertionError(what + ": got " + got + ", want " + want);
        }
    }

    private String topic(String base) throws Exception {
        String t = base + "-" + run;
        Properties p = new Properties();
        p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, boot);
        try (Admin a = Admin.create(p)) {
            a.createTopics(List.of(new NewTopic(t, 1, (short) 1))).all().get(30, TimeUnit.SECONDS);
        }
        return t;
    }

    private KafkaProducer<String, String> txnProducer(String txnId) {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, boot);
        p.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, txnId);
        p.put(ProducerConfig.TRANSACTION_TIMEOUT_CONFIG, 60000);
        p.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, 30000);
        p.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, 30000);
        p.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, 15000);
        p.put(ProducerConfig.LINGER_MS_CONFIG, 5);
        KafkaProducer<String, String> prod = new KafkaProducer<>(p, new StringSerializer(), new StringSerializer());
        prod.initTransactions();
        return prod;
    }

    private KafkaConsumer<String, String> consumer(String isolation, String group) {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, boot);
        p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, isolation);
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        if (group != null) {
            p.put(ConsumerConfig.GROUP_ID_CONFIG, group);
        }
        return new KafkaConsumer<>(p, new StringDeserializer(), new StringDeserializer());
    }

    /**
     * The values of partition 0 from the start: polls until want records arrived (EndTxn may
     * answer before the markers are written, so the LSO can trail a commit briefly), then 500 ms
     * more to catch any extra.
     */
    private List<String> readAll(String topic, String isolation, int want) {
        TopicPartition tp = new TopicPartition(topic, 0);
        try (KafkaConsumer<String, String> c = consumer(isolation, null)) {
            c.assign(List.of(tp));
            c.seekToBeginning(List.of(tp));
            List<String> out = new ArrayList<>();
            long deadline = System.currentTimeMillis() + 20_000;
            while (out.size() < want && System.currentTimeMillis() < deadline) {
                for (ConsumerRecord<String, String> r : c.poll(Duration.ofMillis(200))) {
                    out.add(r.value());
                }
            }
            for (ConsumerRecord<String, String> r : c.poll(Duration.ofMillis(500))) {
                out.add(r.value());
            }
            return out;
        }
    }

    private List<String> readAll(String topic, String isolation, List<String> want, String what) {
        List<String> got = readAll(topic, isolation, want.size());
        checkEq(got, want, what);
        return got;
    }

    /** Polls endOffsets of tp with the isolation level until it is want, up to 10 s. */
    private long waitEnd(TopicPartition tp, String isolation, long want) throws Exception {
        try (KafkaConsumer<String, String> c = consumer(isolation, null)) {
            long got = -1;
            for (long deadline = System.currentTimeMillis() + 10_000; System.currentTimeMillis() < deadline; Thread.sleep(100)) {
                got = c.endOffsets(List.of(tp), Duration.ofSeconds(15)).get(tp);
                if (got == want) {
                    break;
                }
            }
            return got;
        }
    }

    private static void txn(KafkaProducer<String, String> p, String topic, List<String> values, boolean commit) throws Exception {
        p.beginTransaction();
        for (String v : values) {
            p.send(new ProducerRecord<>(topic, 0, null, v));
        }
        p.flush();
        if (commit) {
            p.commitTransaction();
        } else {
            p.abortTransaction();
        }
    }

    private void commitAbortVisibility() throws Exception {
        String t = topic("java-txn-vis");
        try (KafkaProducer<String, String> p = txnProducer("java-txn-vis-" + run)) {
            txn(p, t, List.of("c1-0", "c1-1", "c1-2"), true);
            txn(p, t, List.of("a1-0", "a1-1"), false);
            txn(p, t, List.of("c2-0", "c2-1"), true);
            txn(p, t, List.of("a2-0"), false);
        }
        readAll(t, "read_committed", List.of("c1-0", "c1-1", "c1-2", "c2-0", "c2-1"), "read_committed");
        readAll(t, "read_uncommitted",
                List.of("c1-0", "c1-1", "c1-2", "a1-0", "a1-1", "c2-0", "c2-1", "a2-0"), "read_uncommitted");
    }

    private void openTransaction() throws Exception {
        String t = topic("java-txn-open");
        TopicPartition tp = new TopicPartition(t, 0);
        try (KafkaProducer<String, String> p = txnProducer("java-txn-open-" + run)) {
            txn(p, t, List.of("before"), true);
            p.beginTransaction();
            p.send(new ProducerRecord<>(t, 0, null, "open-0"));
            p.send(new ProducerRecord<>(t, 0, null, "open-1"));
            p.flush();
            // "before" at 0, its commit marker at 1, the open transaction from 2.
            checkEq(waitEnd(tp, "read_committed", 2), 2L, "read_committed end offset (LSO) while open");
            checkEq(waitEnd(tp, "read_uncommitted", 4), 4L, "read_uncommitted end offset (high watermark) while open");
            readAll(t, "read_committed", List.of("before"), "read_committed while open");
            readAll(t, "read_uncommitted", List.of("before", "open-0", "open-1"), "read_uncommitted while open");
            p.commitTransaction();
        }
        readAll(t, "read_committed", List.of("before", "open-0", "open-1"), "read_committed after commit");
        checkEq(waitEnd(tp, "read_committed", 5), 5L, "read_committed end offset after commit");
    }

    private void sendOffsets() throws Exception {
        String src = topic("java-txn-src");
        String dst = topic("java-txn-dst");
        String group = "java-txn-group-" + run;
        TopicPartition in = new TopicPartition(src, 0);
        Properties pp = new Properties();
        pp.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, boot);
        try (KafkaProducer<String, String> plain = new KafkaProducer<>(pp, new StringSerializer(), new StringSerializer())) {
            for (int i = 0; i < 6; i++) {
                plain.send(new ProducerRecord<>(src, 0, null, "in" + i));
            }
            plain.flush();
        }
        try (KafkaConsumer<String, String> c = consumer("read_committed", group);
                KafkaProducer<String, String> p = txnProducer("java-txn-ctp-" + run)) {
            c.assign(List.of(in));
            c.seekToBeginning(List.of(in));
            List<ConsumerRecord<String, String>> pending = new ArrayList<>();
            long deadline = System.currentTimeMillis() + 30_000;
            while (pending.size() < 6 && System.currentTimeMillis() < deadline) {
                ConsumerRecords<String, String> rs = c.poll(Duration.ofMillis(300));
                rs.forEach(pending::add);
            }
            checkEq(pending.size(), 6, "input records consumed");
            // Round 1 (in0..in2) committed, round 2 (in3..in5) aborted then redone.
            int[][] rounds = {{0, 3, 1}, {3, 6, 0}, {3, 6, 1}};
            long[] wantCommitted = {3, 3, 6};
            for (int i = 0; i < rounds.length; i++) {
                int from = rounds[i][0], to = rounds[i][1];
                boolean commit = rounds[i][2] == 1;
                p.beginTransaction();
                for (int j = from; j < to; j++) {
                    p.send(new ProducerRecord<>(dst, 0, null, pending.get(j).value().toUpperCase()));
                }
                p.flush(); // so the aborted round's records reach the log (unsent ones would be dropped)
                p.sendOffsetsToTransaction(Map.of(in, new OffsetAndMetadata(pending.get(to - 1).offset() + 1)),
                        c.groupMetadata());
                if (commit) {
                    p.commitTransaction();
                } else {
                    p.abortTransaction();
                }
                // The offsets become visible with the commit markers, which may trail EndTxn.
                OffsetAndMetadata om = null;
                for (long until = System.currentTimeMillis() + 10_000; System.currentTimeMillis() < until; Thread.sleep(100)) {
                    om = c.committed(Collections.singleton(in), Duration.ofSeconds(15)).get(in);
                    if (om != null && om.offset() == wantCommitted[i]) {
                        break;
                    }
                }
                check(om != null, "round %d: no committed offset", i);
                checkEq(om.offset(), wantCommitted[i], "round " + i + " committed offset");
            }
        }
        readAll(dst, "read_committed", List.of("IN0", "IN1", "IN2", "IN3", "IN4", "IN5"), "read_committed output");
        checkEq(readAll(dst, "read_uncommitted", 9).size(), 9, "read_uncommitted output count");
    }

    private void fencing() throws Exception {
        String t = topic("java-txn-fence");
        String id = "java-txn-fence-" + run + "-" + UUID.randomUUID();
        KafkaProducer<String, String> a = txnProducer(id);
        KafkaProducer<String, String> b = null;
        try {
            txn(a, t, List.of("a-committed"), true);
            a.beginTransaction();
            a.send(new ProducerRecord<>(t, 0, null, "a-open")).get(30, TimeUnit.SECONDS);
            b = txnProducer(id); // bumps the epoch, aborts a's open transaction
            Throwable fenced = null;
            try {
                a.send(new ProducerRecord<>(t, 0, null, "a-after-fence"));
                a.flush();
                a.commitTransaction();
            } catch (KafkaException e) {
                fenced = e;
            }
            check(fenced != null, "older producer committed after being fenced");
            check(isFenced(fenced), "older producer: want ProducerFencedException, got %s", fenced);
            txn(b, t, List.of("b-committed"), true);
            // a stays fenced: it cannot begin or commit anything.
            Throwable again = null;
            try {
                a.beginTransaction();
                a.send(new ProducerRecord<>(t, 0, null, "a-zombie"));
                a.commitTransaction();
            } catch (KafkaException e) {
                again = e;
            }
            check(again != null, "fenced producer committed a new transaction");
        } finally {
            a.close(Duration.ofSeconds(5));
            if (b != null) {
                b.close(Duration.ofSeconds(5));
            }
        }
        readAll(t, "read_committed", List.of("a-committed", "b-committed"), "read_committed after fencing");
    }

    private static boolean isFenced(Throwable e) {
        for (Throwable c = e; c != null; c = c.getCause()) {
            if (c instanceof ProducerFencedException || c instanceof InvalidProducerEpochException) {
                return true;
            }
        }
        return false;
    }
}
