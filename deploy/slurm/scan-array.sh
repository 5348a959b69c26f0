#!/bin/bash
# dicomguard scan (or files) as a Slurm job array: task i of N scans shard i/N of the same target list and
# writes results/scan-i.jsonl; a dependent job merges them into one report.
#
#   mkdir -p results && sbatch deploy/slurm/scan-array.sh targets.txt
#
# Shards are chosen by a hash of address:port (files: of the path relative to the folder given), so the tasks
# need no coordination and a task rerun after a failure scans exactly the same part.
#SBATCH --job-name=dicomguard-scan
#SBATCH --array=0-15
#SBATCH --cpus-per-task=2
#SBATCH --output=results/scan-%a.log
set -euo pipefail
N=16  # keep equal to the --array range's size
targets=${1:?usage: sbatch deploy/slurm/scan-array.sh TARGETS.txt}
i=$SLURM_ARRAY_TASK_ID
out=results/scan-$i.jsonl
rc=0
dicomguard scan --json -iL "$targets" --shard "$i/$N" >"$out.part" || rc=$?
# 0 clean, 1 findings, 3 no DICOM service in this shard: all are results; anything else fails the task
if [[ $rc -ne 0 && $rc -ne 1 && $rc -ne 3 ]]; then exit "$rc"; fi
mv "$out.part" "$out"  # only a complete shard gets its final name
# The last task to finish does not know it is last; submit the report as a dependent job instead:
#   sbatch --dependency=afterok:$SLURM_ARRAY_JOB_ID --wrap 'dicomguard report results/scan-*.jsonl -o results/report.html'
# Files, the same way:  dicomguard files --json --shard "$i/$N" /archive >results/files-$i.jsonl
