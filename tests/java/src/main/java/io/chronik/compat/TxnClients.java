package io.chronik.compat;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;

import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.InvalidProducerEpochException;
import org.apache.kafka.common.errors.ProducerFencedException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/**
 * The Java client's half of tests/compat/txn_clients_test.py, which drives it (and kills and
 * restarts the broker).
 *
 * <ul>
 *   <li>{@code TxnClients run BOOTSTRAP TOPIC TXNID N SLEEPMS}: N transactions, each writing
 *       "t<i>-p<P>" to partitions 0..2; transaction i is aborted when i % 3 == 2, otherwise
 *       committed. Prints "RESULT i committed|aborted|unknown" per transaction (unknown: the
 *       commit/abort did not return success; the producer is then re-created as needed) and
 *       "DONE" at the end.
 *   <li>{@code TxnClients consume BOOTSTRAP TOPIC read_committed|read_uncommitted PARTITIONS}:
 *       reads every partition from the beginning up to its end offset (the LSO under
 *       read_committed) and prints "partition offset value" per record.
 *   <li>{@code TxnClients fence BOOTSTRAP TOPIC TXNID}: producer A begins a transaction and writes
 *       "A-1"; producer B with the same id initializes; A then writes "A-2" and commits, which
 *       must fail with ProducerFencedException / InvalidProducerEpochException; B commits "B-1".
 *       Prints "FENCED exceptionclass" or "NOTFENCED ...", then "B committed".
 * </ul>
 */
public final class TxnClients {
    static KafkaProducer<byte[], byte[]> producer(String boot, String txnId) {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, boot);
        p.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, txnId);
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
        p.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, "30000");
        p.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, "5000");
        p.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, "30000");
        p.put(ProducerConfig.TRANSACTION_TIMEOUT_CONFIG, "60000");
        p.put(ProducerConfig.RECONNECT_BACKOFF_MAX_MS_CONFIG, "500");
        p.put(ProducerConfig.RETRY_BACKOFF_MAX_MS_CONFIG, "500");
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        return new KafkaProducer<>(p);
    }

    static ProducerRecord<byte[], byte[]> rec(String topic, int part, String v) {
        return new ProducerRecord<>(topic, part, null, v.getBytes(StandardCharsets.UTF_8));
    }

    static KafkaProducer<byte[], byte[]> fresh(KafkaProducer<byte[], byte[]> old, String boot, String txnId) {
        if (old != null) {
            try {
                old.close(Duration.ofSeconds(2));
            } catch (Exception ignored) {
                // closing a broken producer
            }
        }
        // initTransactions retries until the broker is back (max.block.ms at a time).
        for (int attempt = 0; ; attempt++) {
            KafkaProducer<byte[], byte[]> pr = producer(boot, txnId);
            try {
                pr.initTransactions();
                return pr;
            } catch (RuntimeException e) {
                System.err.println("initTransactions: " + e);
                pr.close(Duration.ofSeconds(2));
                if (attempt >= 4) {
                    throw e;
                }
            }
        }
    }

    static void run(String boot, String topic, String txnId, int n, long sleepMs) throws Exception {
        KafkaProducer<byte[], byte[]> pr = fresh(null, boot, txnId);
        for (int i = 0; i < n; i++) {
            boolean abort = i % 3 == 2;
            String result;
            try {
                pr.beginTransaction();
                for (int p = 0; p < 3; p++) {
                    pr.send(rec(topic, p, "t" + i + "-p" + p));
                }
                if (sleepMs > 0) {
                    Thread.sleep(sleepMs);
                }
                if (abort) {
                    pr.flush(); // delivered, so read_uncommitted must see them
                    pr.abortTransaction();
                    result = "aborted";
                } else {
                    pr.commitTransaction();
                    result = "committed";
                }
            } catch (Exception e) {
                System.err.println("txn " + i + ": " + e);
                result = "unknown";
                // Abortable errors: abort and go on; fatal ones (fenced, epoch, ...): a new producer.
                boolean recreate = e instanceof ProducerFencedException || e instanceof InvalidProducerEpochException;
                if (!recreate) {
                    try {
                        pr.abortTransaction();
                    } catch (Exception e2) {
                        System.err.println("txn " + i + " abort: " + e2);
                        recreate = true;
                    }
                }
                if (recreate) {
                    pr = fresh(pr, boot, txnId);
                }
            }
            System.out.println("RESULT " + i + " " + result);
            System.out.flush();
        }
        pr.close(Duration.ofSeconds(5));
        System.out.println("DONE");
    }

    static void consume(String boot, String topic, String isolation, int partitions) {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, boot);
        p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, isolation);
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        try (KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(p)) {
            List<TopicPartition> tps = new ArrayList<>();
            for (int i = 0; i < partitions; i++) {
                tps.add(new TopicPartition(topic, i));
            }
            c.assign(tps);
            c.seekToBeginning(tps);
            Map<TopicPartition, Long> end = c.endOffsets(tps, Duration.ofSeconds(30));
            long deadline = System.currentTimeMillis() + 30000;
            while (System.currentTimeMillis() < deadline) {
                boolean done = true;
                for (TopicPartition tp : tps) {
                    if (c.position(tp) < end.get(tp)) {
                        done = false;
                    }
                }
                if (done) {
                    break;
                }
                for (ConsumerRecord<byte[], byte[]> r : c.poll(Duration.ofMillis(500))) {
                    System.out.println(r.partition() + " " + r.offset() + " " + new String(r.value(), StandardCharsets.UTF_8));
                }
            }
        }
    }

    static void fence(String boot, String topic, String txnId) throws Exception {
        KafkaProducer<byte[], byte[]> a = fresh(null, boot, txnId);
        a.beginTransaction();
        a.send(rec(topic, 0, "A-1")).get();
        KafkaProducer<byte[], byte[]> b = fresh(null, boot, txnId);
        String outcome = "NOTFENCED commit succeeded";
        try {
            a.send(rec(topic, 1, "A-2")).get();
            a.commitTransaction();
        } catch (Exception e) {
            Throwable t = e.getCause() != null && !(e instanceof ProducerFencedException) ? e.getCause() : e;
            if (t instanceof ProducerFencedException || t instanceof InvalidProducerEpochException) {
                outcome = "FENCED " + t.getClass().getSimpleName();
            } else if (e instanceof ProducerFencedException || e instanceof InvalidProducerEpochException) {
                outcome = "FENCED " + e.getClass().getSimpleName();
            } else {
                outcome = "NOTFENCED " + e;
            }
            // After fencing, nothing A does may succeed: try once more.
            try {
                a.beginTransaction();
                a.send(rec(topic, 2, "A-3")).get();
                a.commitTransaction();
                outcome += " (but a later commit succeeded)";
            } catch (Exception ignored) {
                // expected
            }
        }
        System.out.println(outcome.replace('\n', ' '));
        try {
            a.close(Duration.ofSeconds(2));
        } catch (Exception ignored) {
            // fenced producer
        }
        b.beginTransaction();
        b.send(rec(topic, 0, "B-1"));
        b.commitTransaction();
        b.close(Duration.ofSeconds(5));
        System.out.println("B committed");
    }

    public static void main(String[] args) throws Exception {
        switch (args[0]) {
            case "run" -> run(args[1], args[2], args[3], Integer.parseInt(args[4]), Long.parseLong(args[5]));
            case "consume" -> consume(args[1], args[2], args[3], Integer.parseInt(args[4]));
            case "fence" -> fence(args[1], args[2], args[3]);
            default -> throw new IllegalArgumentException("unknown mode " + args[0]);
        }
        System.out.flush();
        System.exit(0);
    }
}
