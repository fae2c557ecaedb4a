#!/usr/bin/env node
// Compat cases for kafkajs (pinned in package-lock.json) against a running broker.
//
//   node tests/compat/node/kafkajs_test.js --bootstrap 127.0.0.1:9092
//
// Prints "PASS name" / "FAIL name: reason" / "XFAIL name: reason" lines and
// exits 1 if any case failed. kafkajs consumers are group-only: that case is
// an expected failure (XFAIL) while the broker doesn't advertise the group APIs.
'use strict'

const net = require('net')

process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1'
const { Kafka, logLevel, ConfigResourceTypes } = require('kafkajs')
const kafkajsVersion = require('kafkajs/package.json').version

function arg (name, def) {
  const i = process.argv.indexOf(name)
  if (i >= 0 && i + 1 < process.argv.length) return process.argv[i + 1]
  const eq = process.argv.find(a => a.startsWith(name + '='))
  return eq ? eq.slice(name.length + 1) : def
}

const BOOT = arg('--bootstrap', '127.0.0.1:9092')
const ONLY = arg('-k', '')
const CASE_TIMEOUT_MS = Number(process.env.COMPAT_CASE_TIMEOUT || 90) * 1000
const RUN = `${Date.now() % 1e9}-${process.pid}`
const unique = name => `${name}-${RUN}`

const kafka = new Kafka({
  clientId: 'chronik-compat',
  brokers: [BOOT],
  logLevel: process.env.COMPAT_VERBOSE ? logLevel.DEBUG : logLevel.NOTHING,
  connectionTimeout: 5000,
  requestTimeout: 15000,
  retry: { retries: 3, initialRetryTime: 200 }
})

const sleep = ms => new Promise(resolve => setTimeout(resolve, ms))

function withTimeout (promise, ms, what) {
  let timer
  return Promise.race([
    promise,
    new Promise((resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms)
    })
  ]).finally(() => clearTimeout(timer))
}

function eq (got, want, what) {
  const g = JSON.stringify(got)
  const w = JSON.stringify(want)
  if (g !== w) throw new Error(`${what}: got ${g.slice(0, 300)}, want ${w.slice(0, 300)}`)
}

let failed = 0
async function run (name, fn, xfail) {
  if (ONLY && !name.includes(ONLY)) return
  let err = null
  try {
    await withTimeout(fn(), CASE_TIMEOUT_MS, 'case')
  } catch (e) {
    err = e
  }
  if (err === null) {
    if (xfail) console.log(`XPASS ${name}: passed although expected to fail (${xfail})`)
    else console.log(`PASS ${name}`)
    return
  }
  const reason = `${err.name || 'Error'}: ${err.message}`.replace(/\n/g, ' ').slice(0, 600)
  if (xfail) {
    console.log(`XFAIL ${name}: ${xfail} [${reason}]`)
  } else {
    failed++
    console.log(`FAIL ${name}: ${reason}`)
  }
}

async function withAdmin (fn) {
  const admin = kafka.admin()
  await admin.connect()
  try {
    return await fn(admin)
  } finally {
    await admin.disconnect()
  }
}

async function waitOffsets (admin, topic, want) {
  // acks=0 is fire-and-forget: the broker may not have synced yet.
  const deadline = Date.now() + 10000
  let offs
  for (;;) {
    offs = (await admin.fetchTopicOffsets(topic))
      .map(o => ({ partition: o.partition, low: o.low, high: o.high }))
      .sort((a, b) => a.partition - b.partition)
    if (JSON.stringify(offs) === JSON.stringify(want) || Date.now() > deadline) return offs
    await sleep(200)
  }
}

// Produces 50 messages in 5 sends of 10 with the given acks; checks the base
// offsets (acks != 0) and the partition offsets the admin client reports.
async function produceAcks (acks) {
  const topic = unique(`kjs-acks${acks}`)
  await withAdmin(admin => admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true }))
  const producer = kafka.producer({ allowAutoTopicCreation: false })
  await producer.connect()
  const bases = []
  try {
    for (let s = 0; s < 5; s++) {
      const messages = []
      for (let i = 0; i < 10; i++) {
        const n = s * 10 + i
        messages.push({ key: `key-${n}`, value: `value-${n}`, partition: 0 })
      }
      const res = await producer.send({ topic, acks, messages })
      if (acks !== 0) {
        eq(res.length, 1, 'result count')
        eq([res[0].topicName, res[0].partition, res[0].errorCode], [topic, 0, 0], 'result')
        bases.push(res[0].baseOffset)
      }
    }
  } finally {
    await producer.disconnect()
  }
  if (acks !== 0) eq(bases, ['0', '10', '20', '30', '40'], 'base offsets')
  const offs = await withAdmin(admin => waitOffsets(admin, topic, [{ partition: 0, low: '0', high: '50' }]))
  eq(offs, [{ partition: 0, low: '0', high: '50' }], 'fetchTopicOffsets')
}

async function caseAutoCreate () {
  const topic = unique('kjs-auto')
  const producer = kafka.producer({ allowAutoTopicCreation: true })
  await producer.connect()
  try {
    const res = await producer.send({
      topic,
      acks: -1,
      messages: [
        { key: 'k', value: 'v', headers: { app: 'chronik' } },
        { key: null, value: 'no-key' },
        { key: 'no-value', value: null }
      ]
    })
    eq(res.map(r => [r.partition, r.errorCode, r.baseOffset]), [[0, 0, '0']], 'result')
  } finally {
    await producer.disconnect()
  }
  const offs = await withAdmin(admin => admin.fetchTopicOffsets(topic))
  eq(offs.map(o => [o.partition, o.low, o.high]), [[0, '0', '3']], 'offsets')
}

async function caseAdmin () {
  const topic = unique('kjs-admin')
  await withAdmin(async admin => {
    const created = await admin.createTopics({
      topics: [{ topic, numPartitions: 3, configEntries: [{ name: 'retention.ms', value: '3600000' }] }],
      waitForLeaders: true
    })
    eq(created, true, 'createTopics result')
    eq(await admin.createTopics({ topics: [{ topic, numPartitions: 3 }] }), false, 'second createTopics result')

    const md = await admin.fetchTopicMetadata({ topics: [topic] })
    eq(md.topics.map(t => [t.name, t.partitions.map(p => p.partitionId).sort()]),
      [[topic, [0, 1, 2]]], 'fetchTopicMetadata')
    if (!(await admin.listTopics()).includes(topic)) throw new Error('listTopics misses the topic')

    // Produce to each partition, then check per-partition offsets.
    const producer = kafka.producer()
    await producer.connect()
    try {
      for (let p = 0; p < 3; p++) {
        const messages = []
        for (let i = 0; i <= p; i++) messages.push({ value: `p${p}-${i}`, partition: p })
        await producer.send({ topic, acks: -1, messages })
      }
    } finally {
      await producer.disconnect()
    }
    const offs = (await admin.fetchTopicOffsets(topic)).sort((a, b) => a.partition - b.partition)
    eq(offs.map(o => [o.partition, o.low, o.high]), [[0, '0', '1'], [1, '0', '2'], [2, '0', '3']], 'fetchTopicOffsets')

    const cfg = await admin.describeConfigs({
      resources: [{ type: ConfigResourceTypes.TOPIC, name: topic }],
      includeSynonyms: false
    })
    const entries = Object.fromEntries(cfg.resources[0].configEntries.map(e => [e.configName, e.configValue]))
    eq(cfg.resources[0].errorCode, 0, 'describeConfigs error')
    eq(entries['retention.ms'], '3600000', 'retention.ms')

    await admin.deleteTopics({ topics: [topic], timeout: 10000 })
    const deadline = Date.now() + 10000
    while ((await admin.listTopics()).includes(topic) && Date.now() < deadline) await sleep(200)
    if ((await admin.listTopics()).includes(topic)) throw new Error('deleted topic still listed')
  })
}

// kafkajs consumers always join a group (FindCoordinator, JoinGroup, ...).
async function caseConsumer () {
  const topic = unique('kjs-consume')
  const producer = kafka.producer({ allowAutoTopicCreation: true })
  await producer.connect()
  const want = []
  try {
    const messages = []
    for (let i = 0; i < 20; i++) {
      messages.push({ key: `key-${i}`, value: `value-${i}` })
      want.push([String(i), `key-${i}`, `value-${i}`])
    }
    await producer.send({ topic, acks: -1, messages })
  } finally {
    await producer.disconnect()
  }
  const consumer = kafka.consumer({ groupId: unique('kjs-group'), retry: { retries: 1 } })
  const got = []
  let crash = null
  consumer.on(consumer.events.CRASH, e => { crash = e.payload.error })
  try {
    await consumer.connect()
    await consumer.subscribe({ topics: [topic], fromBeginning: true })
    await consumer.run({
      autoCommit: false,
      eachMessage: async ({ message }) => {
        got.push([message.offset, message.key.toString(), message.value.toString()])
      }
    })
    const deadline = Date.now() + 15000
    while (got.length < want.length && !crash && Date.now() < deadline) await sleep(100)
    if (crash) throw crash
    eq(got, want, 'consumed records')
  } finally {
    await withTimeout(consumer.disconnect(), 10000, 'consumer.disconnect').catch(() => {})
  }
}

// The broker's ApiVersions (v0) answer as a Map api_key -> [min, max].
function apiVersions (bootstrap) {
  const [host, port] = [bootstrap.slice(0, bootstrap.lastIndexOf(':')), Number(bootstrap.slice(bootstrap.lastIndexOf(':') + 1))]
  return new Promise((resolve, reject) => {
    const clientId = Buffer.from('chronik-compat')
    const body = Buffer.alloc(10 + clientId.length)
    body.writeInt16BE(18, 0) // ApiVersions
    body.writeInt16BE(0, 2) // v0
    body.writeInt32BE(1, 4) // correlation id
    body.writeInt16BE(clientId.length, 8)
    clientId.copy(body, 10)
    const size = Buffer.alloc(4)
    size.writeInt32BE(body.length)
    let buf = Buffer.alloc(0)
    const sock = net.connect({ host, port }, () => sock.write(Buffer.concat([size, body])))
    sock.setTimeout(10000, () => { sock.destroy(); reject(new Error('ApiVersions timed out')) })
    sock.on('error', reject)
    sock.on('data', d => {
      buf = Buffer.concat([buf, d])
      if (buf.length < 4 || buf.length < 4 + buf.readInt32BE(0)) return
      sock.end()
      const err = buf.readInt16BE(8)
      if (err !== 0) return reject(new Error(`ApiVersions error ${err}`))
      const n = buf.readInt32BE(10)
      const apis = new Map()
      for (let i = 0; i < n; i++) {
        const o = 14 + 6 * i
        apis.set(buf.readInt16BE(o), [buf.readInt16BE(o + 2), buf.readInt16BE(o + 4)])
      }
      resolve(apis)
    })
  })
}

// OffsetCommit, OffsetFetch, FindCoordinator, JoinGroup, Heartbeat, LeaveGroup, SyncGroup.
const GROUP_APIS = [8, 9, 10, 11, 12, 13, 14]

async function main () {
  console.log(`# kafkajs ${kafkajsVersion}`)
  const apis = await apiVersions(BOOT)
  const noGroups = GROUP_APIS.every(k => apis.has(k)) ? null : 'consumer groups not implemented yet'

  for (const acks of [-1, 1, 0]) {
    await run(`kafkajs: produce 50 acks=${acks}, base offsets, fetchTopicOffsets`, () => produceAcks(acks))
  }
  await run('kafkajs: auto-create on produce, headers, null key/value', caseAutoCreate)
  await run('kafkajs: admin createTopics/fetchTopicMetadata/fetchTopicOffsets/describeConfigs/deleteTopics', caseAdmin)
  await run('kafkajs: group consumer reads back in order', caseConsumer, noGroups)
  process.exit(failed ? 1 : 0)
}

main().catch(e => {
  console.log(`FAIL kafkajs: unexpected error: ${e && e.stack ? e.stack.replace(/\n/g, ' ') : e}`)
  process.exit(1)
})
