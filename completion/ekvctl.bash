# bash completion for ekvctl(1): commands, options, database names, keys.
_ekvctl()
{
	local cur prev words cword
	_init_completion || return

	local commands="get put delete list batch export import format stat dump fsck probe devices"
	local global="-c --config -d --db -i --image --device -s --script -y --yes -v --verbose
		-q --quiet -h --help -V --version --seed --wait --socket --direct --strict
		--on-damage --page-size
		--page-count --max-page-count --align --erase-value --crc --no-crc
		--max-chunk-size --branching-factor --max-key-size --max-value-size
		--scratch-pages"

	case $prev in
	-c | --config | -i | --image | -s | --script | --file | --socket)
		_filedir
		return
		;;
	--device)
		local devs
		devs=$(ls /dev/mtd* 2>/dev/null | grep -v 'ro$'; \
			sed 's/^/mtd:/' /sys/class/mtd/mtd*/name 2>/dev/null)
		COMPREPLY=($(compgen -W "$devs" -- "$cur"))
		return
		;;
	--on-damage)
		COMPREPLY=($(compgen -W "auto fallback refuse" -- "$cur"))
		return
		;;
	-d | --db)
		local conf=${EKV_CONF:-/etc/ekv.conf} i
		for ((i = 1; i < cword; i++)); do
			[[ ${words[i]} == -c || ${words[i]} == --config ]] && conf=${words[i + 1]}
		done
		COMPREPLY=($(compgen -W "$(sed -n 's/^[[:space:]]*\[\(.*\)\][[:space:]]*$/\1/p' "$conf" 2>/dev/null)" -- "$cur"))
		return
		;;
	--erase-value)
		COMPREPLY=($(compgen -W "0xFF 0x00" -- "$cur"))
		return
		;;
	--align)
		COMPREPLY=($(compgen -W "1 2 4" -- "$cur"))
		return
		;;
	--branching-factor)
		COMPREPLY=($(compgen -W "2 3 4" -- "$cur"))
		return
		;;
	--page-size | --page-count | --max-page-count | --max-chunk-size | --max-key-size | \
	--max-value-size | --scratch-pages | --seed | --wait | --from | --to)
		return
		;;
	esac

	# the command: the first word that is not an option or an option's value
	local cmd="" i
	for ((i = 1; i < cword; i++)); do
		case ${words[i]} in
		-c | --config | -d | --db | -i | --image | --device | -s | --script | --seed | \
		--socket | --page-size | --page-count | --max-page-count | --align | \
		--erase-value | --max-chunk-size | --branching-factor | --max-key-size | \
		--max-value-size | --scratch-pages)
			((i++))
			;;
		-*) ;;
		*)
			cmd=${words[i]}
			break
			;;
		esac
	done

	if [[ -z $cmd ]]; then
		if [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W "$global" -- "$cur"))
		else
			COMPREPLY=($(compgen -W "$commands" -- "$cur"))
		fi
		return
	fi

	local opts=""
	case $cmd in
	get) opts="-n --value-only --hex --raw --hex-args" ;;
	put) opts="--file --hex-args" ;;
	delete) opts="--must-exist --hex-args" ;;
	list) opts="--hex --json --keys --from --to --hex-args" ;;
	batch) opts="--hex" ;;
	export) opts="--json" ;;
	import) opts="--json --replace" ;;
	dump) opts="--pages --files --records" ;;
	*) opts="" ;;
	esac
	if [[ $cur == -* ]]; then
		COMPREPLY=($(compgen -W "$opts $global" -- "$cur"))
		return
	fi
	case $cmd in
	get | delete)
		# keys of the database, when it opens without asking
		local args=() j
		for ((j = 1; j < i; j++)); do args+=("${words[j]}"); done
		local keys
		keys=$("${words[0]}" "${args[@]}" -q list --keys 2>/dev/null | grep -v '\\' | head -1000)
		COMPREPLY=($(compgen -W "$keys" -- "$cur"))
		;;
	batch | export | import)
		_filedir
		;;
	esac
} &&
	complete -F _ekvctl ekvctl
