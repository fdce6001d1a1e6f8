# Stand-in procs for the Vivado Tcl commands a generated script calls, for tests without Vivado.
# Each call is appended to the file $::env(FA_TCL_RECORD) as one line: the command and its
# arguments separated by tabs. The runs "produce" FAKE files (bitstream, hwh, reports) so the
# script's own copy steps can run; none of them is a real tool output.

set ::fa_record [expr {[info exists ::env(FA_TCL_RECORD)] ? $::env(FA_TCL_RECORD) : "tcl_calls.txt"}]
set ::fa_known {}
set ::fa_freq ""

proc fa_rec {cmd args} {
    set f [open $::fa_record a]
    puts $f [join [concat [list $cmd] [lmap a $args {string map [list "\n" "\\n" "\t" " "] $a}]] "\t"]
    close $f
}
proc fa_fake {path text} {
    file mkdir [file dirname $path]
    set f [open $path w]
    puts $f "FAKE $text, written by a test stand-in for Vivado; not a real tool output"
    close $f
}
proc fa_stub {name body} {
    lappend ::fa_known $name
    proc $name args "fa_rec $name {*}\$args\n$body"
}
proc fa_opt {argl name {default ""}} {
    set i [lsearch -exact $argl $name]
    return [expr {$i >= 0 ? [lindex $argl [expr {$i + 1}]] : $default}]
}

fa_stub create_project {
    set ::proj_name [lindex $args 0]
    set ::proj_dir [file normalize [lindex $args 1]]
    file mkdir $::proj_dir
}
fa_stub get_board_parts {
    return [expr {[info exists ::env(FA_STANDIN_BOARD_PART)] ? $::env(FA_STANDIN_BOARD_PART) : ""}]
}
fa_stub get_ipdefs {
    # two versions, so a script that picks the newest can be checked
    set pat [lindex $args end]
    if {[string match {\**} $pat]} {
        # our HLS IP: the vendor export_design gave it
        set vendor [expr {[info exists ::env(FA_STANDIN_IP_VENDOR)] ? $::env(FA_STANDIN_IP_VENDOR) : "fpga-accel.org"}]
        set pat $vendor[string range $pat 1 end]
    }
    set pat [string range $pat 0 end-1]
    return [list ${pat}5.5 ${pat}10.1]
}
foreach c {update_ip_catalog create_bd_design apply_bd_automation connect_bd_intf_net connect_bd_net
           assign_bd_address validate_bd_design save_bd_design launch_runs open_run add_files} {
    fa_stub $c {return ""}
}
fa_stub set_property {
    if {[lindex $args 0] eq "-dict"} {
        foreach {k v} [lindex $args 1] {
            if {[string match *PERIPHERAL_FREQMHZ $k] || [string match *PL0_REF_CTRL__FREQMHZ $k]} { set ::fa_freq $v }
        }
    }
    return ""
}
foreach c {current_project current_fileset} { fa_stub $c "return <$c>" }
foreach c {get_bd_cells get_bd_intf_pins get_bd_pins get_files get_runs} { fa_stub $c {return [lindex $args end]} }
fa_stub create_bd_cell { return [lindex $args end] }
fa_stub make_wrapper { return [file join $::proj_dir fa_bd_wrapper.v] }
fa_stub get_property {
    set prop [lindex $args 0]
    set obj [lindex $args 1]
    switch -glob -- $prop {
        PROGRESS { return [expr {[info exists ::env(FA_STANDIN_RUN_FAIL)] && $::env(FA_STANDIN_RUN_FAIL) eq $obj ? "0%" : "100%"}] }
        DIRECTORY { return [file join $::proj_dir $::proj_name.runs $obj] }
        CONFIG.*ACT* { return $::fa_freq }
        default { return "" }
    }
}
fa_stub wait_on_run {
    set run [lindex $args 0]
    set dir [file join $::proj_dir $::proj_name.runs $run]
    file mkdir $dir
    fa_fake [file join $dir runme.log] "run log of $run"
    if {$run eq "impl_1"} {
        fa_fake [file join $dir fa_bd_wrapper.bit] "bitstream"
        fa_fake [file join $::proj_dir $::proj_name.gen sources_1 bd fa_bd hw_handoff fa_bd.hwh] "hardware handoff"
    }
}
fa_stub report_utilization {
    set path [fa_opt $args -file]
    file mkdir [file dirname $path]
    set f [open $path w]
    puts $f "FAKE utilization report written by a test stand-in for Vivado; the numbers are made up"
    puts $f "1. Slice Logic"
    puts $f "+----------------------------+------+-------+------------+-----------+-------+"
    puts $f "|          Site Type         | Used | Fixed | Prohibited | Available | Util% |"
    puts $f "+----------------------------+------+-------+------------+-----------+-------+"
    puts $f "| Slice LUTs                 | 1111 |     0 |          0 |     53200 |  2.09 |"
    puts $f "|   LUT as Logic             | 1000 |     0 |          0 |     53200 |  1.88 |"
    puts $f "| Slice Registers            | 2222 |     0 |          0 |    106400 |  2.09 |"
    puts $f "| Block RAM Tile             |  3.5 |     0 |          0 |       140 |  2.50 |"
    puts $f "| DSPs                       |    4 |     0 |          0 |       220 |  1.82 |"
    puts $f "+----------------------------+------+-------+------------+-----------+-------+"
    close $f
}
fa_stub report_timing_summary {
    set path [fa_opt $args -file]
    file mkdir [file dirname $path]
    set f [open $path w]
    puts $f "FAKE timing summary written by a test stand-in for Vivado; the numbers are made up"
    puts $f "| Design Timing Summary"
    puts $f ""
    puts $f "    WNS(ns)      TNS(ns)  TNS Failing Endpoints  TNS Total Endpoints      WHS(ns)      THS(ns)"
    puts $f "    -------      -------  ---------------------  -------------------      -------      -------"
    # FA_STANDIN_WNS=-0.321 writes a design that misses timing
    set wns [expr {[info exists ::env(FA_STANDIN_WNS)] ? $::env(FA_STANDIN_WNS) : "1.250"}]
    set tns [expr {$wns < 0 ? $wns * 17 : 0.0}]
    puts $f [format "    %7.3f      %7.3f                     %2d                 1234        0.040        0.000" $wns $tns [expr {$wns < 0 ? 17 : 0}]]
    puts $f ""
    puts $f [expr {$wns < 0 ? "Timing constraints are not met." : "All user specified timing constraints are met."}]
    close $f
}

# any other command: recorded too, so a test can list what the script called beyond the above
rename unknown fa_tcl_unknown
proc unknown args {
    fa_rec UNKNOWN {*}$args
    return ""
}
