# Stand-in procs for the Vitis HLS Tcl commands, for tests without Vitis HLS. Calls are recorded
# like vivado_stubs.tcl does; csynth_design and export_design write FAKE reports, a FAKE IP
# component.xml, a driver header and (for -format xo) a kernel.xml that the stand-in program
# packs into the .xo afterwards. The numbers are made up.

set ::fa_record [expr {[info exists ::env(FA_TCL_RECORD)] ? $::env(FA_TCL_RECORD) : "tcl_calls.txt"}]
proc fa_rec {cmd args} {
    set f [open $::fa_record a]
    puts $f [join [concat [list $cmd] [lmap a $args {string map [list "\n" "\\n" "\t" " "] $a}]] "\t"]
    close $f
}
proc fa_write {path text} {
    file mkdir [file dirname $path]
    set f [open $path w]
    puts $f $text
    close $f
}
set ::hls_top ""
set ::hls_period 10.0
# the first argument that is neither an option nor an option's value
proc fa_name {argl} {
    for {set i 0} {$i < [llength $argl]} {incr i} {
        set a [lindex $argl $i]
        if {$a eq "-reset"} continue
        if {[string match -* $a]} { incr i; continue }
        return $a
    }
}
proc open_project {args} { fa_rec open_project {*}$args; set ::hls_proj [file normalize [fa_name $args]]; file mkdir $::hls_proj }
proc open_solution {args} { fa_rec open_solution {*}$args; set ::hls_sol [file join $::hls_proj [fa_name $args]]; file mkdir $::hls_sol }
proc set_top {top} { fa_rec set_top $top; set ::hls_top $top }
proc create_clock {args} {
    fa_rec create_clock {*}$args
    set i [lsearch -exact $args -period]
    if {$i >= 0} { set ::hls_period [lindex $args [expr {$i + 1}]] }
}
proc csynth_design {args} {
    fa_rec csynth_design {*}$args
    set xml "<?xml version=\"1.0\"?>\n<!-- FAKE csynth report written by a test stand-in for Vitis HLS; the numbers are made up -->
<profile><ReportVersion><Version>0000.0-stand-in</Version></ReportVersion>
<UserAssignments><Part>stand-in</Part><TopModelName>$::hls_top</TopModelName><TargetClockPeriod>$::hls_period</TargetClockPeriod></UserAssignments>
<PerformanceEstimates><SummaryOfTimingAnalysis><EstimatedClockPeriod>7.000</EstimatedClockPeriod></SummaryOfTimingAnalysis>
<SummaryOfOverallLatency><Best-caseLatency>900</Best-caseLatency><Worst-caseLatency>1000</Worst-caseLatency><Interval-min>800</Interval-min><Interval-max>800</Interval-max></SummaryOfOverallLatency></PerformanceEstimates>
<AreaEstimates><Resources><BRAM_18K>6</BRAM_18K><DSP>3</DSP><FF>2000</FF><LUT>1000</LUT><URAM>0</URAM></Resources>
<AvailableResources><BRAM_18K>280</BRAM_18K><DSP>220</DSP><FF>106400</FF><LUT>53200</LUT><URAM>0</URAM></AvailableResources></AreaEstimates></profile>"
    fa_write [file join $::hls_sol syn report csynth.xml] $xml
}
proc fa_header {top} {
    set up [string toupper $top]
    set lines [list "// FAKE driver header written by a test stand-in for Vitis HLS"]
    set off 16
    if {$top eq "fa_kernel"} {
        foreach a $::env(FA_STANDIN_KERNEL_ARGS) {
            lappend lines "#define X${up}_CONTROL_ADDR_[string toupper $a]_DATA 0x[format %02x $off]"
            incr off [expr {$a eq "n_images" ? 8 : 12}]
        }
    } elseif {$top eq "fa_tiled_top"} {
        # the tiled engine: ap_return, then its arguments; act_bytes one word further than predicted
        lappend lines "#define X${up}_CONTROL_ADDR_AP_RETURN 0x10"
        set off 24
        foreach {a size} {desc 12 desc_words 8 weights 12 weights_bytes 8 acts 12 act_bytes 8} {
            if {$a eq "act_bytes"} { incr off 8 }
            lappend lines "#define X${up}_CONTROL_ADDR_[string toupper $a]_DATA 0x[format %02x $off]"
            incr off $size
        }
    } else {
        # one word further than predicted, so a test sees measured offsets replace predicted ones
        lappend lines "#define X${up}_CONTROL_ADDR_N_IMAGES_DATA 0x[format %02x [expr {$off + 8}]]"
    }
    return [join $lines "\n"]
}
proc export_design {args} {
    fa_rec export_design {*}$args
    set fmt [lindex $args [expr {[lsearch -exact $args -format] + 1}]]
    set top $::hls_top
    fa_write [file join $::hls_sol impl misc drivers ${top}_v1_0 src x${top}_hw.h] [fa_header $top]
    if {$fmt eq "ip_catalog"} {
        set x "<!-- FAKE IP-XACT component of fpga-accel.org:hls:$top:1.0 (stand-in) -->"
        set v "// FAKE Verilog of $top written by a test stand-in for Vitis HLS"
        if {$top eq "fa_tiled_top"} {
            # the engine's m_axi widths, as an exported IP declares them: model parameters of its component.xml
            # and parameters of its Verilog; 32 bits each unless FA_STANDIN_M_AXI_BITS says (e.g. "32 512 128")
            set bits [expr {[info exists ::env(FA_STANDIN_M_AXI_BITS)] ? $::env(FA_STANDIN_M_AXI_BITS) : "32 32 32"}]
            foreach b {GMEM0 GMEM1 GMEM2} w $bits {
                append x "\n<spirit:modelParameter spirit:dataType=\"integer\"><spirit:name>C_M_AXI_${b}_DATA_WIDTH</spirit:name>"
                append x "<spirit:value spirit:format=\"long\" spirit:resolve=\"generated\" spirit:id=\"MODELPARAM_VALUE.C_M_AXI_${b}_DATA_WIDTH\">$w</spirit:value></spirit:modelParameter>"
                append v "\nparameter    C_M_AXI_${b}_DATA_WIDTH = $w;"
            }
        }
        fa_write [file join $::hls_sol impl ip component.xml] $x
        fa_write [file join $::hls_sol impl ip hdl verilog $top.v] $v
    } else {
        set i [lsearch -exact $args -output]
        set out [expr {$i >= 0 ? [file normalize [lindex $args [expr {$i + 1}]]] : [file join $::hls_sol impl export.xo]}]
        set xml "<?xml version=\"1.0\"?>\n<!-- FAKE kernel.xml (stand-in) -->\n<root><kernel name=\"$top\"><args>"
        set off 16
        set id 0
        foreach a $::env(FA_STANDIN_KERNEL_ARGS) {
            append xml "\n<arg name=\"$a\" id=\"$id\" offset=\"0x[format %x $off]\"/>"
            incr off [expr {$a eq "n_images" ? 8 : 12}]
            incr id
        }
        append xml "\n</args></kernel></root>"
        fa_write $out.kernel.xml $xml
    }
}
proc unknown args { fa_rec {*}$args; return "" }
