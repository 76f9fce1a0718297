"""An os-ken (Debian python3-os-ken) OpenFlow 1.3 application driven against
vswitchd by test_sdn_vswitchd.py: a MAC-learning switch that installs a
table-miss flow, learns from packet-ins, installs per-destination flows with
an idle timeout and SEND_FLOW_REM, and records every event it sees as one
JSON line in $OSKEN_EVENTS (handshake, packet-in, flow-removed, port-status).
"""
import json
import os

from os_ken.base import app_manager
from os_ken.controller import ofp_event
from os_ken.controller.handler import CONFIG_DISPATCHER, MAIN_DISPATCHER, set_ev_cls
from os_ken.lib.packet import ethernet, packet
from os_ken.ofproto import ofproto_v1_3

IDLE_TIMEOUT = int(os.environ.get("OSKEN_IDLE", "2"))


def record(**kw):
    with open(os.environ["OSKEN_EVENTS"], "a") as f:
        f.write(json.dumps(kw) + "\n")


class L2Learner(app_manager.OSKenApp):
    OFP_VERSIONS = [ofproto_v1_3.OFP_VERSION]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.macs = {}

    @set_ev_cls(ofp_event.EventOFPSwitchFeatures, CONFIG_DISPATCHER)
    def features(self, ev):
        dp = ev.msg.datapath
        ofp, parser = dp.ofproto, dp.ofproto_parser
        inst = [parser.OFPInstructionActions(ofp.OFPIT_APPLY_ACTIONS, [
            parser.OFPActionOutput(ofp.OFPP_CONTROLLER, ofp.OFPCML_NO_BUFFER)])]
        dp.send_msg(parser.OFPFlowMod(datapath=dp, priority=0, match=parser.OFPMatch(),
                                      instructions=inst))
        record(event="features", dpid=dp.id, n_tables=ev.msg.n_tables)

    @set_ev_cls(ofp_event.EventOFPPacketIn, MAIN_DISPATCHER)
    def packet_in(self, ev):
        msg = ev.msg
        dp = msg.datapath
        ofp, parser = dp.ofproto, dp.ofproto_parser
        in_port = msg.match["in_port"]
        eth = packet.Packet(msg.data).get_protocols(ethernet.ethernet)[0]
        record(event="packet_in", in_port=in_port, src=eth.src, dst=eth.dst,
               reason=msg.reason, table_id=msg.table_id, len=len(msg.data))
        self.macs[eth.src] = in_port
        out = self.macs.get(eth.dst, ofp.OFPP_FLOOD)
        actions = [parser.OFPActionOutput(out)]
        if out != ofp.OFPP_FLOOD:
            inst = [parser.OFPInstructionActions(ofp.OFPIT_APPLY_ACTIONS, actions)]
            match = parser.OFPMatch(in_port=in_port, eth_dst=eth.dst, eth_src=eth.src)
            dp.send_msg(parser.OFPFlowMod(datapath=dp, priority=10, match=match,
                                          instructions=inst, idle_timeout=IDLE_TIMEOUT,
                                          flags=ofp.OFPFF_SEND_FLOW_REM))
            record(event="flow_installed", in_port=in_port, src=eth.src, dst=eth.dst, out=out)
        dp.send_msg(parser.OFPPacketOut(datapath=dp, buffer_id=ofp.OFP_NO_BUFFER,
                                        in_port=in_port, actions=actions, data=msg.data))

    @set_ev_cls(ofp_event.EventOFPFlowRemoved, MAIN_DISPATCHER)
    def flow_removed(self, ev):
        m = ev.msg
        record(event="flow_removed", reason=m.reason, priority=m.priority,
               idle_timeout=m.idle_timeout, packets=m.packet_count,
               eth_dst=m.match.get("eth_dst"))

    @set_ev_cls(ofp_event.EventOFPPortStatus, MAIN_DISPATCHER)
    def port_status(self, ev):
        m = ev.msg
        record(event="port_status", reason=m.reason, port_no=m.desc.port_no,
               name=m.desc.name.decode() if isinstance(m.desc.name, bytes) else m.desc.name)
