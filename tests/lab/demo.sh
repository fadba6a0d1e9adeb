#!/bin/bash
# The first hour (issue 53 item 9): `make demo` (examples/demo.sh) as a new user
# runs it, then every line of the "to explore" list it prints, exactly as
# printed, from the checkout. The demo must leave its lab up (in the default
# lab directory: the commands carry no settings), every command must work, and
# the list's last line takes it all down.
#
#   the demo's lab: xcl-n1, xcl-n2 (an xcnid each, no kube-proxy), xcl-ul, xcl-out,
#   nine pods in x, y, z and the DNS pod (examples/lab); the sandbox's /run, so
#   the default /run/xcni-lab is this suite's own.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib.sh"
lab_suite demo
# The demo runs in the default lab directory, as a user's would: the sandbox
# (tests/sandbox.sh) gives this suite a /run of its own.
unset XCNI_LAB_DIR
XCNI_LAB_DIR=/run/xcni-lab
lab_start "$XCNICTL" "$XCNI_BIN" "$XCNID_BIN"
ROOT=${XCNI_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
cd "$ROOT" || exit 1
# The list prints build/xcnictl: the checkout's own build must be that one.
[ "$(readlink -f "$BUILD/xcnictl")" = "$(readlink -f build/xcnictl)" ] ||
	{ not_ok "BUILD is $ROOT/build (the demo's list names build/xcnictl)"; finish; exit 1; }

check "make demo's script runs to its end (exit 0)" bash -c "bash examples/demo.sh >'$T/demo.out' 2>&1"
tail -n 20 "$T/demo.out" | sed 's/^/#   /'
check "  ... and says the lab stays up, with a list to explore" grep -q 'the lab stays up: to explore' "$T/demo.out"
check "  ... its lab is up after it, in the default directory (lab get with no settings)" \
	bash -c "'$XCNICTL' lab get >/dev/null"
# The list: every line after the heading that starts with the command.
mapfile -t LIST < <(awk '/the lab stays up: to explore/ { on = 1; next } on && /^  build\/xcnictl / { print }' "$T/demo.out")
check "  ... the list has 9 commands, got ${#LIST[@]}" test "${#LIST[@]}" = 9
down=
for line in "${LIST[@]}"; do
	cmd=$(sed -E 's/^  //; s/ {2,}.*$//' <<<"$line")
	case $cmd in
	*" lab down") down=$cmd ;;
	*" lab ui")
		# It serves until stopped: up, its page answers, stopped by its PID.
		$cmd >"$T/ui.out" 2>&1 &
		MINE+=($!)
		check "'$cmd' serves the map on http://127.0.0.1:9963/" wait_until 15 \
			python3 -c 'import urllib.request; urllib.request.urlopen("http://127.0.0.1:9963/", timeout=2).read()'
		stop_mine
		MINE=()
		;;
	*)
		check "'$cmd' works as printed (exit 0)" bash -c "$cmd >'$T/cmd.out' 2>&1" ||
			sed 's/^/#   /' "$T/cmd.out" | head -n 10
		case $cmd in
		*" status") check "  ... every node 'Verdict: OK'" bash -c "[ \$(grep -c 'Verdict: *OK' '$T/cmd.out') = 2 ]" ;;
		*" lab probe y/b x/a 80/TCP") check "  ... connected" grep -q connected "$T/cmd.out" ;;
		*" --node all explain z/b x/a 80/TCP")
			# Each side read on its pod's node: one verdict, not "unknown".
			check "  ... one verdict for the whole path: denied by x/a's ingress" \
				grep -qE '^VERDICT +denied: by ingress at the destination' "$T/cmd.out"
			;;
		*" flows --node all --last 10")
			# Which node decided the last 10 is the traffic's timing (DNS,
			# the probe just before): each row names one of the lab's nodes,
			# and the whole merged window has rows from both.
			check "  ... 1 to 10 rows, each decided on n1 or n2" bash -c \
				"n=\$(grep -cE '^n[12] ' '$T/cmd.out'); [ \$n -ge 1 ] && [ \$n -le 10 ]"
			check "  ... and the whole merged window has rows from both nodes" bash -c \
				"${cmd% --last 10} >'$T/all.out' 2>&1 && grep -q '^n1 ' '$T/all.out' && grep -q '^n2 ' '$T/all.out'"
			;;
		esac
		;;
	esac
done
check "the list ends with the command that takes it down" test -n "$down"
remember_pids
# make demo again on the lab it left: taken down first, the demo runs again.
check "make demo again, its earlier lab still up: taken down first, runs to its end" \
	bash -c "bash examples/demo.sh >'$T/demo2.out' 2>&1 && grep -q 'the lab an earlier demo left is up: taking it down' '$T/demo2.out'"
check "'$down' works as printed" $down
left=$(leftovers)
check "nothing left behind (netns, pins, processes; state)" test -z "$left"
[ -n "$left" ] && echo "$left" | sed 's/^/#   /'
# Any other lab is the user's: the demo stops, names it, and leaves it.
check "a lab that is not the demo's: up" lab up --nodes 1
check_fails "  ... make demo refuses to start on it" bash examples/demo.sh
check "  ... and leaves it up" bash -c "'$XCNICTL' lab get >/dev/null"
lab_down_checked
finish
