package main

import (
	"crypto/rand"
	"fmt"

	"nomadsystemd/proto/driver"
)

// Sizes of the test task, in Nomad's units.
const (
	taskCPUMHz   = 100
	taskMemoryMB = 64
	// nodeComputeMHz is the topology sent in SetConfig: 2 cores at 2000 MHz.
	nodeComputeMHz = 2 * 2000
)

// job names the allocation the test's tasks belong to.
type job struct {
	allocID, jobName, group string
	dir                     allocDir
}

// taskConfig is the TaskConfig Nomad's task runner sends in StartTask for one run of task
// (a fresh id every run, as Nomad makes one per start and restart) with the job's config
// block already encoded, writing to logs.
func (j job) taskConfig(task string, encodedConfig []byte, logs taskLogs) *driver.TaskConfig {
	return &driver.TaskConfig{
		Id:                  fmt.Sprintf("%s/%s/%s", j.allocID, task, randomHex(4)),
		Name:                task,
		MsgpackDriverConfig: encodedConfig,
		Env: map[string]string{
			"NOMAD_ALLOC_ID":     j.allocID,
			"NOMAD_ALLOC_NAME":   fmt.Sprintf("%s.%s[0]", j.jobName, j.group),
			"NOMAD_ALLOC_INDEX":  "0",
			"NOMAD_JOB_NAME":     j.jobName,
			"NOMAD_JOB_ID":       j.jobName,
			"NOMAD_GROUP_NAME":   j.group,
			"NOMAD_TASK_NAME":    task,
			"NOMAD_NAMESPACE":    "default",
			"NOMAD_REGION":       "global",
			"NOMAD_DC":           "dc1",
			"NOMAD_CPU_LIMIT":    fmt.Sprint(taskCPUMHz),
			"NOMAD_MEMORY_LIMIT": fmt.Sprint(taskMemoryMB),
			"NOMAD_ALLOC_DIR":    "/alloc",
			"NOMAD_TASK_DIR":     "/local",
			"NOMAD_SECRETS_DIR":  "/secrets",
		},
		Resources: &driver.Resources{
			AllocatedResources: &driver.AllocatedTaskResources{
				Cpu:    &driver.AllocatedCpuResources{CpuShares: taskCPUMHz},
				Memory: &driver.AllocatedMemoryResources{MemoryMb: taskMemoryMB},
			},
			LinuxResources: &driver.LinuxResources{
				CpuShares:        taskCPUMHz,
				MemoryLimitBytes: taskMemoryMB * 1024 * 1024,
				PercentTicks:     float64(taskCPUMHz) / nodeComputeMHz,
			},
			Ports: []*driver.PortMapping{},
		},
		AllocDir:      j.dir.root,
		StdoutPath:    logs.stdoutPath,
		StderrPath:    logs.stderrPath,
		TaskGroupName: j.group,
		JobName:       j.jobName,
		JobId:         j.jobName,
		AllocId:       j.allocID,
		Namespace:     "default",
		NodeName:      "goplugin-test-node",
		NodeId:        newUUID(),
	}
}

// newUUID returns a random version-4 UUID, the form of Nomad's alloc and node ids.
func newUUID() string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		fail("reading random bytes: %v", err)
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// randomHex returns n random bytes in hex, as Nomad's uuid.Short() (n = 4) for task ids.
func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		fail("reading random bytes: %v", err)
	}
	return fmt.Sprintf("%x", b)
}
